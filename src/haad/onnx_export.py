"""Encoders as ONNX files: ``haad export ENCODER --format onnx --out FILE.onnx`` and the embedder that runs them.

An exported file is one self-contained ``.onnx`` model: input ``windows`` (B, H, J, 3) float32 with a
dynamic batch axis B, output ``embeddings`` (B, D) float32; the DCT is inside the graph. Everything
the detector needs besides the graph travels in the model's ``metadata_props``, under the key
``haad`` (:data:`METADATA_KEY`), as the JSON of the encoder checkpoint's header: ``config`` (the
:class:`~haad.encoder.EncoderConfig`), ``meta`` (for the pretrained encoder its ``pretrained`` record
with the normalisation, and the ``layout`` and ``window`` it was trained on) and ``format_version``,
plus ``exported_from`` (the spec exported). So :func:`haad.encoders.resolve_encoder` treats
``FILE.onnx`` like the checkpoint it came from: a pretrained encoder's file gets the preprocessor
(canonical skeleton, sensor normalisation), a per-dataset encoder's file its own layout only.

:class:`OnnxEmbedder` runs the file with onnxruntime (no torch in the embedding). A detector fitted
with one cannot be saved (:meth:`~haad.detector.FewShotDetector.save` stores torch weights): fit it with
the checkpoint the file was exported from to save it. Exporting needs the ``onnx`` package, running
needs ``onnxruntime``: ``pip install -e ".[onnx]"``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

METADATA_KEY = "haad"
INPUT_NAME = "windows"
OUTPUT_NAME = "embeddings"
OPSET = 17


def is_onnx_spec(spec) -> bool:
    """Whether an encoder spec names an ONNX file (a path ending in ``.onnx``)."""
    return str(spec).lower().endswith(".onnx")


def _need(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise RuntimeError(f"ONNX encoders need the {module!r} package: pip install -e \".[onnx]\" "
                           "(or pip install onnx onnxruntime)") from None


def export_onnx(spec, out) -> Path:
    """Write the encoder named by ``spec`` (``builtin`` or an encoder checkpoint directory) as ``out``
    (a ``.onnx`` file, written atomically) with its header in the metadata; returns ``out``."""
    import io
    import warnings

    import torch

    from haad.encoders import resolve_encoder
    from haad.storage import atomic_write_bytes

    onnx = _need("onnx")
    out = Path(out)
    if not is_onnx_spec(out):
        raise ValueError(f"--out {out}: an ONNX file's name must end in .onnx")
    if is_onnx_spec(spec) or str(spec) in ("dct", "bones"):
        raise ValueError(f"{spec}: export takes an encoder checkpoint directory or 'builtin'")
    chosen = resolve_encoder(spec)
    # The trained module only: a hybrid record's no-learning parts (numpy) are rebuilt from the header
    # when the file is loaded (haad.encoders.resolve_encoder).
    encoder = chosen.encoder.eval()
    cfg = encoder.config
    example = torch.zeros(2, cfg.window, cfg.num_joints, 3)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript-based exporter (dynamo=False) is deprecated but needs no onnxscript; the shape
        # check in ActionEncoder.node_features traces as a constant, which is what a fixed (H, J) graph means.
        warnings.simplefilter("ignore")
        with torch.no_grad():
            torch.onnx.export(encoder, (example,), buf, dynamo=False, opset_version=OPSET,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
    model = onnx.load_from_string(buf.getvalue())
    header = dict(chosen.header)
    header["exported_from"] = chosen.spec
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(header)
    model.producer_name = "haad"
    onnx.checker.check_model(model)
    atomic_write_bytes(out, model.SerializeToString())
    return out


def read_header(path) -> dict:
    """The encoder header stored in an exported ONNX file's metadata (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX encoder {path} not found")
    onnx = _need("onnx")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # noqa: BLE001 - protobuf raises its own errors for a damaged file
        raise ValueError(f"{path}: not a readable ONNX file ({e})") from None
    props = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY not in props:
        raise ValueError(f"{path}: no '{METADATA_KEY}' metadata; export encoders with haad export --format onnx")
    header = json.loads(props[METADATA_KEY])
    if "config" not in header:
        raise ValueError(f"{path}: the '{METADATA_KEY}' metadata has no encoder config")
    return header


class OnnxEmbedder:
    """Embeds (N, H, J, 3) windows with an exported encoder through onnxruntime (batched, float32).

    Args:
        path: the ``.onnx`` file from :func:`export_onnx`.
        batch_size: windows per onnxruntime call.
        threads: onnxruntime's intra-op threads (``None``: its default, one per physical core).
        header: the file's header when already read (:func:`read_header`).
    """

    name = "fewshot-onnx"

    def __init__(self, path, batch_size: int = 4096, threads: int | None = None, header: dict | None = None):
        ort = _need("onnxruntime")
        self.path = Path(path)
        self.header = header if header is not None else read_header(self.path)
        self.config = dict(self.header["config"])
        self.batch_size = batch_size
        opts = ort.SessionOptions()
        if threads is not None:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    @property
    def embedding_dim(self) -> int:
        c = self.config
        return int(c["num_joints"]) if c.get("pooling", "joint") == "joint" else 3 * int(c["n_coef"])

    def joint_index(self, num_joints: int) -> np.ndarray | None:
        """As :meth:`haad.embedders.EncoderEmbedder.joint_index`: one joint per dimension with joint pooling."""
        return np.arange(num_joints) if self.config.get("pooling", "joint") == "joint" else None

    @property
    def n_coef(self):
        # FewShotDetector.save reads this for embedders without torch weights: refuse there, clearly.
        raise ValueError(f"a detector fitted with the ONNX encoder {self.path} cannot be saved (a saved detector "
                         "holds torch weights): fit it with the encoder checkpoint the file was exported from "
                         "(or builtin) to save it")

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        windows = np.ascontiguousarray(windows, dtype=np.float32)
        c = self.config
        if windows.ndim != 4 or windows.shape[1:] != (int(c["window"]), int(c["num_joints"]), 3):
            raise ValueError(f"expected windows of shape (B, {c['window']}, {c['num_joints']}, 3), "
                             f"got {windows.shape}")
        if len(windows) == 0:
            return np.zeros((0, self.embedding_dim), np.float32)
        out = [self.session.run(None, {self.input_name: windows[i:i + self.batch_size]})[0]
               for i in range(0, len(windows), self.batch_size)]
        return np.concatenate(out).astype(np.float32, copy=False)
