"""``summary``: a Keras-style text table of a network's layers."""

from __future__ import annotations

from ..module import Module
from .tracing import Shape, fmt_shape, trace_model


def summary(module: Module, input_shape: Shape | int | None = None) -> str:
    """A Keras-style table: layer, type, output shape ``(N, 30)``, parameters; totals and their bytes.

    A model with buffers (BatchNorm's running statistics) gets one more line counting them.
    """
    tracer = trace_model(module, input_shape)
    rows = [("Layer", "Type", "Output Shape", "Param #")]
    for leaf in tracer.leaves:
        count = sum(p.size for p in leaf.module.parameters())
        rows.append((leaf.name or "(module)", type(leaf.module).__name__, fmt_shape(leaf.out_shape), f"{count:,}"))
    widths = [max(len(r[i]) for r in rows) + 2 for i in range(4)]
    widths[3] = max(widths[3], 9)
    line = "=" * sum(widths)

    def fmt(r: tuple[str, ...]) -> str:
        return "".join(c.ljust(w) for c, w in zip(r[:3], widths)) + r[3].rjust(widths[3])

    params = module.parameters()
    total = sum(p.size for p in params)
    nbytes = sum(p.data.nbytes for p in params)
    dtypes = sorted({str(p.dtype) for p in params}) or ["-"]
    out = [f"{type(module).__name__} summary", line, fmt(rows[0]), line, *(fmt(r) for r in rows[1:]), line]
    out.append(f"Total params: {total:,} ({_human_bytes(nbytes)} in {'/'.join(dtypes)})")
    buffers = module.buffers()
    if buffers:  # running statistics: state, not trained (Keras's "non-trainable")
        size, nb = sum(b.size for b in buffers), sum(b.nbytes for b in buffers)
        out.append(f"Buffers: {size:,} ({_human_bytes(nb)}, not trained)")
    return "\n".join(out)


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return f"{n} B"
