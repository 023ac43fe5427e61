"""The sky plot of ``computeFields.py`` (``fields.png``): an all-sky Mollweide map of the fields.

Drawn with Pillow rather than matplotlib: importing matplotlib and drawing one scatter plot took
longer than reading, checking and grouping the exposures. The map is ICRS with east to the left
(RA 0 at the centre, increasing to the left), a graticule every 30 degrees, one disc per field at
the centre of its earliest exposure (area grows with the field's exposures), coloured by program.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# matplotlib's "tab10", so the colours read as they did when matplotlib drew the plot.
COLOURS = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]
WIDTH, HEIGHT = 1210, 660  # pixels of the PNG
_SUPERSAMPLE = 2  # drawn at twice the size, then reduced: smooth edges without antialiasing


def mollweide(ra_deg, dec_deg) -> tuple[np.ndarray, np.ndarray]:
    """Mollweide x in [-2, 2] and y in [-1, 1] (east to the left: RA 0 at 0, RA 90 at x < 0)."""
    longitude = -np.deg2rad((np.asarray(ra_deg, dtype=float) + 180.0) % 360.0 - 180.0)
    latitude = np.deg2rad(np.asarray(dec_deg, dtype=float))
    # Solve 2t + sin 2t = pi sin(latitude) for the auxiliary angle t (Newton; exact at the poles).
    target = np.pi * np.sin(latitude)
    theta = latitude.copy()
    for _ in range(50):
        step = (2 * theta + np.sin(2 * theta) - target) / (2 + 2 * np.cos(2 * theta) + 1e-300)
        theta = np.clip(theta - step, -np.pi / 2, np.pi / 2)
        if np.all(np.abs(step) < 1e-10):
            break
    return 2 * longitude / np.pi * np.cos(theta), np.sin(theta)


def draw_sky_plot(
    ra_deg, dec_deg, programs, exposures, title: str, path: Path, image_format: str = "PNG"
) -> None:
    """Write the map of fields (centre RA/Dec in degrees, program, count of exposures) to path."""
    from PIL import Image, ImageDraw, ImageFont

    scale = _SUPERSAMPLE
    image = Image.new("RGB", (WIDTH * scale, HEIGHT * scale), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=13 * scale)
    title_font = ImageFont.load_default(size=16 * scale)
    half_width, half_height = 0.45 * WIDTH * scale, 0.225 * WIDTH * scale  # 2:1 ellipse
    centre_x, centre_y = WIDTH * scale / 2, (HEIGHT / 2 + 12) * scale

    def pixels(ra, dec):
        x, y = mollweide(ra, dec)
        return centre_x + x / 2 * half_width, centre_y - y * half_height

    grid, line = (190, 190, 190), max(1, scale)
    draw.ellipse(
        [
            centre_x - half_width,
            centre_y - half_height,
            centre_x + half_width,
            centre_y + half_height,
        ],
        fill=(250, 250, 252),
        outline=(60, 60, 60),
        width=line,
    )
    along = np.linspace(-90.0, 90.0, 181)
    for ra in range(30, 360, 30):  # meridians (RA 180 is the ellipse's edge)
        x, y = pixels(np.full_like(along, ra), along)
        draw.line(list(zip(x.tolist(), y.tolist())), fill=grid, width=line)
    around = np.linspace(-179.999, 179.999, 361)
    for dec in (-60, -30, 0, 30, 60):  # parallels, labelled at the left edge
        x, y = pixels(around % 360.0, np.full_like(around, dec))
        draw.line(list(zip(x.tolist(), y.tolist())), fill=grid, width=line)
        edge_x, edge_y = pixels(179.999, dec)  # the eastern (left) edge
        draw.text(
            (edge_x - 6 * scale, edge_y),
            f"{dec:+d}°" if dec else "0°",
            fill=(60, 60, 60),
            font=font,
            anchor="rm",
        )
    for ra in range(30, 360, 30):  # RA labels just below the equator
        x, y = pixels(ra, 0.0)
        draw.text(
            (x + 3 * scale, y + 3 * scale), f"{ra}°", fill=(60, 60, 60), font=font, anchor="la"
        )

    ra_deg, dec_deg = np.asarray(ra_deg, dtype=float), np.asarray(dec_deg, dtype=float)
    programs = np.asarray([str(p) for p in programs])
    exposures = np.asarray(exposures, dtype=float)
    x, y = pixels(ra_deg, dec_deg)
    # matplotlib's scatter sized marker areas in points^2: s = 8 + 2 sqrt(n), radius ~ sqrt(s)/2.
    radius = np.sqrt(8 + 2 * np.sqrt(exposures)) / 2 * 110 / 72 * scale
    legend = []
    for number, program in enumerate(sorted(set(programs.tolist()))):
        colour = COLOURS[number % len(COLOURS)]
        legend.append((program, colour))
        for px, py, r in zip(
            x[programs == program], y[programs == program], radius[programs == program]
        ):
            draw.ellipse([px - r, py - r, px + r, py + r], fill=colour, outline=(40, 40, 40))

    box_right, box_bottom = (WIDTH - 14) * scale, (HEIGHT - 14) * scale
    row = 18 * scale
    box_left, box_top = box_right - 130 * scale, box_bottom - row * len(legend) - 8 * scale
    draw.rectangle(
        [box_left, box_top, box_right, box_bottom], fill="white", outline=(160, 160, 160)
    )
    for number, (program, colour) in enumerate(legend):
        y_row = box_top + 4 * scale + row * number + row / 2
        r = 5 * scale
        draw.ellipse(
            [box_left + 10 * scale - r, y_row - r, box_left + 10 * scale + r, y_row + r],
            fill=colour,
        )
        draw.text(
            (box_left + 22 * scale, y_row),
            f"program {program}",
            fill="black",
            font=font,
            anchor="lm",
        )
    draw.text((WIDTH * scale / 2, 10 * scale), title, fill="black", font=title_font, anchor="ma")
    draw.text(
        (16 * scale, (HEIGHT - 14) * scale),
        "ICRS, Mollweide; east (RA) to the left",
        fill=(90, 90, 90),
        font=font,
        anchor="ld",
    )
    image = image.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)
    image.save(path, format=image_format, optimize=False)
