"""The loss of freshly initialised nets on one seeded batch: how the residual stream grows with depth.

    python scripts/initial_loss.py            # resnet20/56/110 (with and without zero-init), plain20/56
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from resnet_explorer.core.resnet import build_model

ARCHS = ("resnet20", "resnet56", "resnet110", "plain20", "plain56")


def main() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))  # normalised inputs: mean 0, std 1
    for arch in ARCHS:
        for zero in (False, True) if arch.startswith("resnet") else (False,):
            torch.manual_seed(0)
            net = build_model(arch, num_classes=10, in_chans=1, zero_init_residual=zero).train()
            with torch.no_grad():
                logits = net(x)
            label = f"{arch}{' zero-init' if zero else ''}"
            print(f"{label:20s} initial loss {F.cross_entropy(logits, y).item():.2f}  "
                  f"logit std {logits.std().item():.2f}")


if __name__ == "__main__":
    main()
