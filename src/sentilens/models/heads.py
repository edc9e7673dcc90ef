"""The light classifier head of the paper: global average pooling, dropout, linear."""

from __future__ import annotations

import torch
from torch import nn

from sentilens.utils.errors import InvalidArgumentError

#: The dropout rate of every head (Table 1 of the paper).
DEFAULT_DROPOUT = 0.5


class ClassifierHead(nn.Module):
    """GAP -> dropout -> linear (Table 1 of the paper).

    Accepts a feature map ``(N, C, H, W)`` or already pooled features ``(N, C)``; the second form
    lets training reuse pooled features cached from frozen blocks.  The head always pools and
    classifies in float32, also under bfloat16 autocast: it costs nothing next to the backbone,
    and its long dot products are where bfloat16 rounding would flip labels close to 0.5.
    """

    def __init__(self, in_channels: int, num_classes: int = 2, dropout: float = DEFAULT_DROPOUT) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise InvalidArgumentError(f"dropout must be in [0, 1), got {dropout}")
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_channels, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        with torch.autocast(features.device.type, enabled=False):
            features = features.float()
            if features.dim() == 4:
                features = features.mean(dim=(2, 3))
            logits: torch.Tensor = self.linear(self.dropout(features))
            return logits
