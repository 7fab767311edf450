"""Surrogate model: stands in for the NX SOL101 solve plus the wfe_rms extractor.

A real study replaces wfe_rms_nm() with an NX journal run and the extractor; the rest of the study
(spec, Optuna loop, result files) stays as it is.
"""

from __future__ import annotations

import math

# rib pattern -> (bending efficiency, rib mass factor, quilting factor)
RIB_PATTERNS: dict[str, tuple[float, float, float]] = {
    "triangular": (1.00, 1.18, 0.80),
    "hexagonal": (0.93, 1.00, 1.00),
    "square": (0.80, 0.92, 1.25),
}
CELL_PITCH_MM = 60.0
MAX_CORE_DEPTH_MM = 80.0
SURROGATE_VARIABLES = ("rib_thickness_mm", "back_plate_mm", "pocket_depth_ratio", "rib_pattern")


def wfe_rms_nm(
    rib_thickness_mm: float, back_plate_mm: float, pocket_depth_ratio: float, rib_pattern: str
) -> float:
    """Analytic stand-in for the NX solve: surface WFE in nm RMS (lower is better).

    Root-sum-square of four error terms with the usual trade-offs:
      gravity sag     ~ mass / bending stiffness: wants deep pockets and a thick core
      quilting        polishing print-through of the unsupported face sheet between ribs
      thermal         print-through of thick/deep ribs plus face-sheet gradients
      residual        polishing floor plus machining stress of deep pockets
    The minimum lies inside the bounds (about 11.5 nm for triangular ribs near
    rib 8.2 mm, back plate 8.6 mm, pocket depth ratio 0.65).
    """
    eta, mass_factor, quilt_factor = RIB_PATTERNS[rib_pattern]
    core_depth = MAX_CORE_DEPTH_MM * pocket_depth_ratio
    solidity = 2.0 * rib_thickness_mm / CELL_PITCH_MM * mass_factor
    areal_mass = back_plate_mm + solidity * core_depth  # mm of equivalent solid glass
    bending = back_plate_mm**3 + eta * solidity * core_depth**3
    gravity = 1.2e4 * areal_mass / bending
    span = CELL_PITCH_MM - rib_thickness_mm
    quilting = 5.0 * quilt_factor * (span / 50.0) ** 4 * (8.0 / back_plate_mm) ** 3
    thermal = (
        0.06 * rib_thickness_mm**2 * pocket_depth_ratio**2 + 0.03 * back_plate_mm**2 + 0.05 * areal_mass
    )
    residual = 4.0 + 16.0 * pocket_depth_ratio**4
    return math.sqrt(gravity**2 + quilting**2 + thermal**2 + residual**2)
