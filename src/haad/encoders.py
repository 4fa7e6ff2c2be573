"""Which embedding a detector uses: the shipped pretrained encoder, the no-learning DCT, or a checkpoint.

An encoder is named by a spec: ``"builtin"`` (the pretrained encoder shipped in the package, the
default), ``"dct"`` (the no-learning DCT embedding), the path of an encoder checkpoint (from
``haad train`` or ``haad pretrain``) or of an encoder exported to ONNX (``FILE.onnx``, from
``haad export --format onnx``; run by onnxruntime, see :mod:`haad.onnx_export`), or ``"bones"`` (the
no-learning bone-direction embedding, :class:`~haad.embedders.BoneDCTEmbedder`, for wrong executions of
an action). A *pretrained* encoder (one made by ``haad pretrain``) and ``bones`` work on the canonical
skeleton in a normalised sensor space, so they take clips of any skeleton that
:func:`haad.canonical.map_layout` can map; a per-dataset encoder takes its own layout only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from haad.embedders import DCTEmbedder, EncoderEmbedder
from haad.normalize import SensorNormConfig

BUILTIN_DIR = Path(__file__).resolve().parent / "weights" / "builtin"
SPECS = ("builtin", "dct", "bones")


@dataclass
class EncoderChoice:
    """A resolved encoder spec.

    Attributes:
        spec: what the user named (``builtin``, ``dct``, a checkpoint path or a ``.onnx`` path).
        embedder: the embedding callable for the detector.
        header: the checkpoint's header (``None`` for ``dct`` and ``bones``).
        path: the checkpoint directory or ``.onnx`` file (``None`` for ``dct`` and ``bones``).
        space: for a no-learning embedding on the canonical skeleton (``bones``), the sensor
            normalisation its clips get (a pretrained encoder's comes from its record).
    """

    spec: str
    embedder: object
    header: dict | None = None
    path: Path | None = None
    space: SensorNormConfig | None = None

    @property
    def encoder(self):
        """The trained torch module behind the embedding (``None`` for dct, bones and ONNX files)."""
        learned = getattr(self.embedder, "learned", self.embedder)
        return getattr(learned, "encoder", None)

    @property
    def pretrained(self) -> dict | None:
        """The record of what a pretrained encoder was trained on (``None`` for other encoders)."""
        return (self.header or {}).get("meta", {}).get("pretrained")

    @property
    def normalization(self) -> SensorNormConfig | None:
        """The sensor normalisation the embedding expects on the canonical skeleton (a pretrained encoder,
        ``bones``); ``None`` for embeddings of a dataset's own skeleton."""
        if self.pretrained is not None:
            return SensorNormConfig.from_dict(self.pretrained["normalization"])
        return self.space

    @property
    def window(self):
        """The window a checkpoint records (a pretrained encoder's is part of its input space: how it
        cuts clips in training), or ``None`` (no-learning embeddings, checkpoints without a record)."""
        from haad.data.windows import WindowConfig

        recorded = (self.header or {}).get("meta", {}).get("window")
        return WindowConfig(**recorded) if recorded else None

    @property
    def distance(self) -> str:
        """The support distance a detector on this encoder uses unless told otherwise: the one its hybrid
        record names (:class:`haad.hybrid.HybridConfig`: ``nearest`` for the built-in encoder), else
        ``mean`` (Eq. 6: per-dataset encoders, no-learning embeddings, hybrid records from before the choice)."""
        hybrid = (self.header or {}).get("meta", {}).get("hybrid")
        return (hybrid or {}).get("distance", "mean")

    @property
    def turns(self) -> tuple:
        """The support turns (degrees about the vertical axis) a detector on this encoder uses unless told
        otherwise: the ones its hybrid record names (:class:`haad.hybrid.HybridConfig`: every 15 degrees
        from -90 to 90 for the built-in encoder), else none."""
        hybrid = (self.header or {}).get("meta", {}).get("hybrid")
        return tuple(float(t) for t in (hybrid or {}).get("turns", ()))

    @property
    def warps(self) -> tuple:
        """The support time warps (exponents, :func:`haad.support_copies.warped`) a detector on this encoder
        uses unless told otherwise: the ones its hybrid record names (the built-in encoder's
        (0.7, 0.8, 1.25, 1.4)), else none (records from before warps, too)."""
        hybrid = (self.header or {}).get("meta", {}).get("hybrid")
        return tuple(float(g) for g in (hybrid or {}).get("warps", ()))

    def record_for(self, source) -> dict | None:
        """The pretraining record of the dataset ``source`` (a collection's ``source``: a dataset name
        or path), or ``None`` when a pretrained encoder never saw it (and for other encoders)."""
        names = {str(source), Path(str(source)).name}
        return next((r for r in (self.pretrained or {}).get("datasets", [])
                     if r["name"] in names or r["source"] in names), None)

    def trained_datasets(self) -> list:
        """The names of the datasets a pretrained encoder was trained on."""
        return [d["name"] for d in (self.pretrained or {}).get("datasets", [])]


def support_settings(config, chosen: EncoderChoice | None = None) -> tuple[str, tuple, tuple]:
    """(distance, turns, warps) of a detector's support set: each as ``config`` (an object with ``distance``,
    ``turns`` and ``warps`` attributes, ``None`` where not given) gives it, else as the encoder ``chosen``
    records, else Eq. 6 with no copies."""
    distance = config.distance or (chosen.distance if chosen is not None else "mean")
    turns = config.turns if config.turns is not None else (chosen.turns if chosen is not None else ())
    warps = config.warps if config.warps is not None else (chosen.warps if chosen is not None else ())
    return distance, tuple(turns), tuple(warps)


def resolve_encoder(spec=None, exact: bool = False) -> EncoderChoice:
    """The encoder named by ``spec`` (``None``: the built-in pretrained encoder).

    A checkpoint whose record holds a hybrid embedding (``meta["hybrid"]``, every encoder ``haad
    pretrain`` makes by default) embeds with it (:mod:`haad.hybrid`). ``exact``: a torch encoder runs its
    module's own forward instead of the inference fast path (they differ by float32 rounding), as the
    evaluation protocols do so that archived results reproduce bit for bit.
    """
    from haad.train import load_encoder

    spec = "builtin" if spec is None else str(spec)
    if spec == "dct":
        return EncoderChoice(spec, DCTEmbedder())
    if spec == "bones":
        from haad.canonical import CANONICAL
        from haad.embedders import BoneDCTEmbedder

        return EncoderChoice(spec, BoneDCTEmbedder(CANONICAL.parents), space=SensorNormConfig())
    if spec.lower().endswith(".onnx"):
        # An encoder exported by haad export --format onnx: its header (config, pretrained record) is in
        # the file's metadata, so it is used like the checkpoint it came from; onnxruntime embeds.
        from haad.onnx_export import OnnxEmbedder, read_header

        header = read_header(spec)
        return EncoderChoice(spec, _with_hybrid(OnnxEmbedder(spec, header=header), header, spec), header, Path(spec))
    path = BUILTIN_DIR if spec == "builtin" else Path(spec)
    if spec == "builtin" and not (path / "config.json").is_file():
        raise FileNotFoundError(f"the built-in encoder is missing from this installation ({path}); "
                                "reinstall haad, or name an encoder checkpoint or 'dct'")
    encoder, header = load_encoder(path)
    return EncoderChoice(spec, _with_hybrid(EncoderEmbedder(encoder, fast=not exact), header, spec), header, path)


def _with_hybrid(learned, header: dict, spec: str):
    """``learned`` alone, or inside the hybrid embedding the checkpoint records (:mod:`haad.hybrid`)."""
    meta = header.get("meta", {})
    if meta.get("hybrid") is None:
        return learned
    from haad.hybrid import hybrid_embedder

    check_hybrid_measured(meta, spec)

    parents = (meta.get("layout") or {}).get("parents")
    if parents is None:
        raise ValueError(f"encoder {spec}: a hybrid embedding needs the skeleton's parents in its record (meta.layout)")
    try:
        return hybrid_embedder(learned, meta["hybrid"], parents)
    except ValueError as e:
        raise ValueError(f"encoder {spec}: {e}") from None


def check_hybrid_measured(meta: dict, where) -> None:
    """Refuse an encoder whose hybrid record's scales were never measured (its pretraining stopped
    between its last epoch and measuring them, :func:`haad.pretrain.pretrain`)."""
    record = meta.get("hybrid")
    if isinstance(record, dict) and record.get("scales") is None:
        raise ValueError(f"encoder {where}: its hybrid embedding's scales were never measured (pretraining stopped "
                         "after its last epoch); run the same haad pretrain command again to finish it")


def export_encoder(src, dst) -> Path:
    """Copy a finished encoder checkpoint to ``dst`` with its weights only (no optimizer state), e.g. to
    ship it; the config and the record of what went in are kept."""
    from haad.train import load_encoder, save_encoder

    encoder, header = load_encoder(src)
    meta = dict(header.get("meta", {}))
    if not meta.get("complete"):
        raise ValueError(f"{src}: training is not finished; only a finished encoder can be exported")
    check_hybrid_measured(meta, src)
    return save_encoder(dst, encoder, meta)
