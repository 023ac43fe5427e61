#!/usr/bin/env bash
# Start a one-node SLURM on this machine for the tests (as root; no systemd, no cgroups needed).
#
#   tests/integration/slurm/start.sh [STATE_DIR]      (default /tmp/wfsspipe-slurm)
#   export SLURM_CONF=STATE_DIR/slurm.conf            (then sbatch/squeue/sinfo use it)
#   tests/integration/slurm/stop.sh [STATE_DIR]
#
# Installs Debian's slurm-wlm and munge when missing, writes a configuration for this host,
# starts munged, slurmctld and slurmd, and waits until the node is idle. Whatever it started is
# listed in STATE_DIR/started (PID files), which stop.sh reads: it stops nothing else.
# Memory limits are enforced (jobacct_gather/linux + OverMemoryKill, sampled every second), and
# every finished job is recorded by SLURM in STATE_DIR/jobcomp.txt (jobcomp/filetxt), which needs
# no database; Snakemake polls with squeue (MinJobAge keeps finished jobs visible).
set -euo pipefail
STATE=${1:-/tmp/wfsspipe-slurm}
mkdir -p "$STATE"/{state,spool,log}
STATE=$(cd "$STATE" && pwd)

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "installing slurm-wlm and munge (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq slurm-wlm munge >/dev/null
fi

HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024) - 2048}' /proc/meminfo)
CONF="$STATE/slurm.conf"
cat > "$CONF" <<CONF
ClusterName=wfsspipe-test
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.txt
AccountingStorageType=accounting_storage/none
MinJobAge=600
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$CONF"
: > "$STATE/started"

# Clients inside jobs may not see SLURM_CONF (snakemake-executor-plugin-slurm deletes every
# SLURM_* variable in a job context), so the configuration must also be at the default path.
# Link it there only if nothing is there; stop.sh removes the link.
DEFAULT_CONF=/etc/slurm/slurm.conf
if [ -L "$DEFAULT_CONF" ] && [ ! -e "$DEFAULT_CONF" ]; then rm -f "$DEFAULT_CONF"; fi
if [ ! -e "$DEFAULT_CONF" ]; then
    mkdir -p /etc/slurm
    ln -s "$CONF" "$DEFAULT_CONF"
    echo "link:$DEFAULT_CONF" >> "$STATE/started"
elif [ "$(readlink -f "$DEFAULT_CONF")" != "$CONF" ]; then
    echo "$DEFAULT_CONF exists and is not ours: this script only starts a private test cluster" >&2
    exit 1
fi

# munge: reuse a running daemon; otherwise start one (with a key of its own if there is none).
if ! munge -n </dev/null >/dev/null 2>&1; then
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        chown munge:munge /etc/munge/munge.key 2>/dev/null || true
        chmod 400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    if id munge >/dev/null 2>&1; then
        runuser -u munge -- munged --pid-file=/run/munge/munged.pid
    else
        munged --force --pid-file=/run/munge/munged.pid
    fi
    echo /run/munge/munged.pid >> "$STATE/started"
    for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
fi

slurmctld -f "$CONF"
echo "$STATE/slurmctld.pid" >> "$STATE/started"
slurmd -f "$CONF"
echo "$STATE/slurmd.pid" >> "$STATE/started"

for _ in $(seq 120); do
    state=$(sinfo -h -N -o '%t' 2>/dev/null | head -n1 || true)
    if [ "$state" = "idle" ]; then
        echo "SLURM is up: node $HOST ($CPUS CPUs, $MEM_MB MB), SLURM_CONF=$CONF"
        exit 0
    fi
    sleep 0.5
done
echo "SLURM did not become idle; see $STATE/log/" >&2
exit 1
