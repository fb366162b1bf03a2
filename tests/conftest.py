"""Settings shared by every test."""

import torch

# The tests use layers of at most 32 units. On tensors that small, handing work to other
# OpenMP threads costs more than the work itself, and far more when other jobs keep the
# cores busy, so the suite runs with one intra-op thread.
torch.set_num_threads(1)
