"""The six schedules with default settings, shared by the schedule, grid and t-sampler tests."""
from genjax import schedules

ALL = {
    "vp_linear": schedules.vp_linear(),
    "vp_cosine": schedules.vp_cosine(),
    "sub_vp": schedules.sub_vp(),
    "ve": schedules.ve(),
    "edm": schedules.edm(),
    "rectified": schedules.rectified(),
}
NAMES = sorted(ALL)
