"""``ami compare``: the AMI agent against RL baselines and true-simulator planning, on one protocol."""
