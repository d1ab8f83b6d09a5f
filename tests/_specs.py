"""The tiny experiment spec several test files run (4 runs of an 8-6 net), in one place."""


def tiny(iterations: int = 40) -> str:
    """The spec as TOML text: sigmoid/ReLU × gauss/He on [8, 6], ``iterations`` steps each."""
    return f"""
name = "tiny"
title = "A tiny experiment"
[base]
hidden_sizes = [8, 6]
iterations = {iterations}
batch_size = 20
eval_every = 10
lr = 0.5
[[group]]
name = "g"
[group.grid]
activation = ["sigmoid", "relu"]
init = ["gauss", "he"]
"""
