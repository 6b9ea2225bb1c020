#!/usr/bin/env python3
"""TensorFlow/Keras HDF5 fixtures for the Swift HDF5 readers (Fixtures/tf/, described in its README.md).

Run with the TF environment (tools/tf-env creates it):

    .venv-tf/bin/python tools/make_tf_fixtures.py            # rewrite Fixtures/tf (README.md is left alone)
    .venv-tf/bin/python tools/make_tf_fixtures.py --check    # rebuild in a temp dir and compare every byte
    .venv-tf/bin/python tools/make_tf_fixtures.py --inspect FILE.h5   # print an HDF5 file as h5py sees it (e.g. a
                                                                      # container written by `ipet convert --to hdf5`)

What it writes
- `<fixture>/tf_model.h5` (+ config.json, preprocessor_config.json) for three of the PyTorch fixtures in
  Fixtures/wav2vec2, converted by REAL transformers 4.46.3 TF code:
  `TFWav2Vec2Model/TFWav2Vec2ForSequenceClassification.from_pretrained(<pt dir>, from_pt=True).save_pretrained(out)`.
- `gn-postln-sharded/`: the same conversion saved with `save_pretrained(max_shard_size="40KB")` (5 shards + index).
- `gn-seqcls-wls-split/tf_model.h5`: the real `gn-seqcls-wls` file with its name lists rewritten the way Keras writes
  lists too large for one HDF5 object header (`layer_names0..1`, `weight_names0..2`, numpy.array_split), as
  fixed-length NULL-padded byte strings (what h5py 2.x wrote; h5py 3.16 writes variable-length strings).
- `tf-names.json`: for every fixture and every weight: the TF variable name, dataset path, TF shape, the PyTorch name and
  transpose that transformers' own `convert_tf_weight_name_to_pt_weight_name` gives, and the name/shape of the same
  tensor in the source `model.safetensors` (which the Swift test compares values against).
- `hdf5/`: small files written with h5py for the generic HDF5 reader (dtypes, strings, chunked+gzip, our tensor
  container layout written by foreign tooling), with the expected values in JSON.
- `malformed/`: broken files and `expected.json` (file → keyword the error message must contain).

Checks performed on every run (results in tf-names.json → "checks"):
- PyTorch `from_pretrained(<tf dir>, from_tf=True)` gives back exactly the source state dict (max |diff| recorded).
- The TF model's outputs on a reference clip match the PyTorch reference outputs (max |diff| recorded).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_common  # noqa: E402
from fixture_common import FIXTURES, check_regeneration, env_quiet, fixture_arguments, max_abs, write_json  # noqa: E402

SOURCE = FIXTURES / "wav2vec2"
OUT = FIXTURES / "tf"

# (fixture, TF class, PyTorch class) — TF has no PreTraining/XVector classes.
CONVERSIONS = [
    ("gn-postln", "TFWav2Vec2Model", "Wav2Vec2Model"),
    ("ln-preln-seqcls", "TFWav2Vec2ForSequenceClassification", "Wav2Vec2ForSequenceClassification"),
    ("gn-seqcls-wls", "TFWav2Vec2ForSequenceClassification", "Wav2Vec2ForSequenceClassification"),
]
SHARDED_FROM = "gn-postln"
SHARD_SIZE = "40KB"
SPLIT_FROM = "gn-seqcls-wls"


# ----------------------------------------------------------------------------------------------------------------------
# versions


def versions() -> dict[str, str]:
    out = fixture_common.versions(("tensorflow", "tf_keras", "torch", "transformers", "h5py"))
    out["hdf5"] = h5py.version.hdf5_version
    return out


# ----------------------------------------------------------------------------------------------------------------------
# reading h5 files as transformers/Keras do


def attr_list(obj, name: str) -> list[str] | None:
    """transformers' load_attributes_from_hdf5_group: `name`, or the concatenation of name0..nameK."""
    if name in obj.attrs:
        return [n.decode("utf8") if hasattr(n, "decode") else str(n) for n in obj.attrs[name]]
    if f"{name}0" not in obj.attrs:
        return None
    data, k = [], 0
    while f"{name}{k}" in obj.attrs:
        data.extend(n.decode("utf8") if hasattr(n, "decode") else str(n) for n in obj.attrs[f"{name}{k}"])
        k += 1
    return data


def text(v) -> str:
    return v.decode("utf8") if hasattr(v, "decode") else str(v)


def describe_string_attr(obj, name: str) -> dict:
    t = obj.attrs.get_id(name).get_type()
    if not isinstance(t, h5py.h5t.TypeStringID):
        return {"class": type(t).__name__, "shape": list(obj.attrs.get_id(name).shape)}
    return {"class": "string", "variable_length": bool(t.is_variable_str()), "size": t.get_size(),
            "strpad": int(t.get_strpad()), "cset": int(t.get_cset()), "shape": list(obj.attrs.get_id(name).shape)}


def convert_name(tf_name: str, shape) -> tuple[str, str]:
    from transformers.modeling_tf_pytorch_utils import convert_tf_weight_name_to_pt_weight_name

    pt_name, transpose = convert_tf_weight_name_to_pt_weight_name(tf_name, tf_weight_shape=shape)
    return pt_name, transpose.name


def safetensors_name_for(pt_name: str, source_names: set[str]) -> str:
    """The name under which transformers' TF→PT loader finds `pt_name` in the source PyTorch state dict."""
    candidates = [pt_name]
    if pt_name.startswith("wav2vec2."):  # bare base model: transformers strips the base-model prefix
        candidates.append(pt_name[len("wav2vec2."):])
    out = []
    for c in candidates:
        out.append(c)
        for tf_suffix, pt_suffix in ((".weight_g", ".parametrizations.weight.original0"),
                                     (".weight_v", ".parametrizations.weight.original1")):
            if c.endswith(tf_suffix):
                out.append(c[: -len(tf_suffix)] + pt_suffix)
    for c in out:
        if c in source_names:
            return c
    raise KeyError(f"{pt_name}: not in the source state dict (tried {out})")


def unsharded_listing(path: Path, source_names: set[str]) -> dict:
    with h5py.File(path, "r") as f:
        layer_names = attr_list(f, "layer_names")
        groups = list(layer_names)
        if "top_level_model_weights" in f:
            groups.append("top_level_model_weights")
        weights = []
        group_info = {}
        for g in groups:
            names = attr_list(f[g], "weight_names") or []
            group_info[g] = {"weight_count": len(names),
                             "weight_names_attributes": sorted(k for k in f[g].attrs if k.startswith("weight_names"))}
            for n in names:
                d = f[g][n]
                pt_name, transpose = convert_name(n, d.shape)
                weights.append({"group": g, "tf_name": n, "dataset": f"/{g}/{n}", "tf_shape": list(d.shape),
                                "dtype": str(d.dtype), "pt_name": pt_name, "transpose": transpose,
                                "safetensors_name": safetensors_name_for(pt_name, source_names)})
        root_attrs = {k: describe_string_attr(f, k) for k in f.attrs if f.attrs.get_id(k).get_type().get_class() == h5py.h5t.STRING}
        return {"layer_names": layer_names, "groups": group_info,
                "model_name": weights[0]["tf_name"].split("/")[0] if weights else None,
                "backend": text(f.attrs["backend"]), "keras_version": text(f.attrs["keras_version"]),
                "root_string_attributes": root_attrs, "weights": weights}


def sharded_listing(folder: Path, source_names: set[str]) -> dict:
    index = json.loads((folder / "tf_model.h5.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    weights = []
    for shard in shards:
        with h5py.File(folder / shard, "r") as f:
            for n in attr_list(f, "layer_names"):
                d = f[n]
                full = next(k for k, v in index["weight_map"].items() if v == shard and k.split("/", 1)[1] == n)
                pt_name, transpose = convert_name(full, d.shape)
                weights.append({"shard": shard, "dataset": "/" + n, "tf_name": full, "tf_shape": list(d.shape),
                                "dtype": str(d.dtype), "pt_name": pt_name, "transpose": transpose,
                                "safetensors_name": safetensors_name_for(pt_name, source_names)})
    return {"shards": shards, "total_size": index["metadata"]["total_size"], "weights": weights}


# ----------------------------------------------------------------------------------------------------------------------
# conversions with real transformers TF code


def convert_all(out: Path) -> dict:
    import tensorflow as tf
    import transformers
    from safetensors.numpy import load_file

    env_quiet()
    tf.get_logger().setLevel("ERROR")
    listing: dict = {"versions": versions(), "fixtures": {}, "checks": {}}
    inputs = load_file(str(SOURCE / "references" / "inputs.safetensors"))
    for name, tf_cls_name, pt_cls_name in CONVERSIONS:
        src = SOURCE / name
        dst = out / name
        dst.mkdir(parents=True, exist_ok=True)
        tf_cls = getattr(transformers, tf_cls_name)
        model = tf_cls.from_pretrained(str(src), from_pt=True)
        # transformers records where the weights came from; a repository-relative name keeps the bytes the same in
        # every checkout.
        model.config._name_or_path = f"Fixtures/wav2vec2/{name}"
        model.save_pretrained(str(dst))
        shutil.copy(src / "preprocessor_config.json", dst / "preprocessor_config.json")
        source_state = load_file(str(src / "model.safetensors"))
        listing["fixtures"][name] = {"class": tf_cls_name, "source": f"Fixtures/wav2vec2/{name}/model.safetensors",
                                     **unsharded_listing(dst / "tf_model.h5", set(source_state))}

        # Check 1: PyTorch reads the TF file back to exactly the source weights.
        pt_cls = getattr(transformers, pt_cls_name)
        back = pt_cls.from_pretrained(str(dst), from_tf=True)
        back_state = {k: v.detach().numpy() for k, v in back.state_dict().items()}
        diffs, differing = [], []
        for k, v in source_state.items():
            k2 = k.replace(".weight_g", ".parametrizations.weight.original0").replace(
                ".weight_v", ".parametrizations.weight.original1")
            diffs.append(max_abs(back_state.get(k, back_state.get(k2)), v))
            if diffs[-1] != 0:
                differing.append(k)
        # Check 2: the TF model reproduces the PyTorch reference outputs.
        refs = load_file(str(SOURCE / "references" / f"{name}.safetensors"))
        key = "one_second.input_values.normalized" if name != "gn-postln" else None
        x = inputs[key] if key else inputs["one_second.waveform"][None, :]
        outputs = model(tf.constant(x), training=False)
        check = {"pt_from_tf_max_abs_diff": max(diffs), "tensors_compared": len(diffs),
                 "pt_from_tf_differing": differing,
                 "h5_vs_source_max_abs_diff": h5_vs_source(dst / "tf_model.h5", listing["fixtures"][name]["weights"],
                                                           source_state)}
        if hasattr(outputs, "last_hidden_state"):
            check["tf_last_hidden_state_vs_pt_reference_max_abs"] = max_abs(
                outputs.last_hidden_state.numpy(), refs["one_second.last_hidden_state"])
        if hasattr(outputs, "logits"):
            check["tf_logits_vs_pt_reference_max_abs"] = max_abs(outputs.logits.numpy(), refs["one_second.logits"])
        listing["checks"][name] = check

    # Sharded variant.
    dst = out / f"{SHARDED_FROM}-sharded"
    dst.mkdir(parents=True, exist_ok=True)
    tf_cls = getattr(transformers, dict((n, c) for n, c, _ in CONVERSIONS)[SHARDED_FROM])
    model = tf_cls.from_pretrained(str(SOURCE / SHARDED_FROM), from_pt=True)
    model.config._name_or_path = f"Fixtures/wav2vec2/{SHARDED_FROM}"
    model.save_pretrained(str(dst), max_shard_size=SHARD_SIZE)
    shutil.copy(SOURCE / SHARDED_FROM / "preprocessor_config.json", dst / "preprocessor_config.json")
    source_names = set(load_file(str(SOURCE / SHARDED_FROM / "model.safetensors")))
    listing["fixtures"][f"{SHARDED_FROM}-sharded"] = {"class": tf_cls.__name__, "max_shard_size": SHARD_SIZE,
                                                      "source": f"Fixtures/wav2vec2/{SHARDED_FROM}/model.safetensors",
                                                      **sharded_listing(dst, source_names)}

    # Split name lists, fixed-length strings.
    dst = out / f"{SPLIT_FROM}-split"
    dst.mkdir(parents=True, exist_ok=True)
    for f in ("config.json", "preprocessor_config.json", "tf_model.h5"):
        shutil.copy(out / SPLIT_FROM / f, dst / f)
    rewrite_split(dst / "tf_model.h5")
    source_names = set(load_file(str(SOURCE / SPLIT_FROM / "model.safetensors")))
    listing["fixtures"][f"{SPLIT_FROM}-split"] = {"class": "TFWav2Vec2ForSequenceClassification",
                                                  "source": f"Fixtures/wav2vec2/{SPLIT_FROM}/model.safetensors",
                                                  **unsharded_listing(dst / "tf_model.h5", source_names)}
    return listing


def h5_vs_source(path: Path, weights: list[dict], source: dict[str, np.ndarray]) -> float:
    """Every dataset, transposed/reshaped as transformers' TF→PT loader does, against the source tensor."""
    from transformers.modeling_tf_pytorch_utils import TransposeType, apply_transpose

    worst = 0.0
    with h5py.File(path, "r") as f:
        for w in weights:
            target = source[w["safetensors_name"]]
            value = apply_transpose(TransposeType[w["transpose"]], f[w["dataset"]][()], target.shape, pt_to_tf=False)
            worst = max(worst, max_abs(value, target))
    return worst


def split_attr(obj, name: str, chunks: int) -> None:
    """Keras' save_attributes_to_hdf5_group for a list over the header limit: numpy.array_split into name0..nameK,
    written as numpy byte-string arrays (fixed length, NULL padded)."""
    data = np.asarray([n.encode("utf8") for n in attr_list(obj, name)])
    del obj.attrs[name]
    if chunks == 1:  # short lists stay whole (Keras splits only past the header limit)
        obj.attrs.create(name, data, dtype=data.dtype)
        return
    for i, chunk in enumerate(np.array_split(data, chunks)):
        obj.attrs.create(f"{name}{i}", chunk, dtype=data.dtype)


def rewrite_split(path: Path) -> None:
    with h5py.File(path, "r+") as f:
        split_attr(f, "layer_names", 2)
        for g in attr_list(f, "layer_names") + ["top_level_model_weights"]:
            n = len(attr_list(f[g], "weight_names"))
            split_attr(f[g], "weight_names", 3 if n >= 3 else 1)
        for k in ("backend", "keras_version"):
            v = f.attrs[k]
            v = v.encode() if isinstance(v, str) else v
            del f.attrs[k]
            f.attrs.create(k, np.bytes_(v))


# ----------------------------------------------------------------------------------------------------------------------
# generic HDF5 files (h5py)


def write_generic(out: Path) -> None:
    d = out / "hdf5"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261128)
    expected: dict = {"datasets": {}, "attributes": {}, "groups": {}}
    with h5py.File(d / "dtypes.h5", "w") as f:
        f32 = rng.standard_normal((2, 3)).astype(np.float32)
        f64 = np.array([1.0, -2.5, 1e-300, 3.0000000001, np.inf], dtype=np.float64)
        f16 = np.array([0.0, -1.5, 65504.0, 6.1e-5, 5.96e-8, np.inf], dtype=np.float16)
        big_endian = rng.standard_normal(4).astype(">f4")
        gz = rng.standard_normal((100, 8)).astype(np.float32)
        f.create_dataset("f32", data=f32)
        f.create_dataset("f64", data=f64)
        f.create_dataset("f16", data=f16)
        f.create_dataset("f32_big_endian", data=big_endian)
        f.create_dataset("scalar", data=np.float32(3.25))
        f.create_dataset("empty", shape=(0, 4), dtype=np.float32)
        f.create_dataset("nested/a/b/chunked_gzip", data=gz, chunks=(16, 8), compression="gzip", compression_opts=6,
                         shuffle=True)
        f.create_dataset("int32", data=np.arange(3, dtype=np.int32))
        f.create_dataset("int64", data=np.arange(3, dtype=np.int64))
        f.create_dataset("uint8", data=np.arange(3, dtype=np.uint8))
        f.create_dataset("compound", data=np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
        f.create_dataset("strings", data=np.array([b"ab", b"cd"]))
        f.create_dataset("bool", data=np.array([True, False]))
        f.attrs["fixed_scalar"] = np.bytes_(b"tensorflow")
        f.attrs.create("fixed_array", np.array([b"a", b"bcd", b""]))
        f.attrs["vlen_scalar"] = "h\u00e9llo \u2713"
        f.attrs["vlen_array"] = np.array(["x", "yy", "\u00e9"], dtype=h5py.string_dtype())
        f.attrs["vlen_bytes_array"] = np.array([b"wav2vec2", b"classifier"], dtype=h5py.string_dtype("ascii"))
        f.attrs["empty_float_array"] = np.zeros(0)
        f.attrs["int_attr"] = np.int64(7)
        f.attrs["float_array_attr"] = np.array([1.5, 2.5])
        f["nested/a"].attrs["inner"] = "deep"
        # Fortran-style space-padded fixed string.
        tid = h5py.h5t.C_S1.copy()
        tid.set_size(6)
        tid.set_strpad(h5py.h5t.STR_SPACEPAD)
        space = h5py.h5s.create(h5py.h5s.SCALAR)
        attr = h5py.h5a.create(f.id, b"space_padded", tid, space)
        attr.write(np.array(b"ab    ", dtype="S6"), mtype=tid)
        expected["datasets"] = {
            "f32": {"shape": [2, 3], "values": f32.ravel().tolist(), "element": "float32"},
            "f64": {"shape": [5], "values": [float(np.float32(v)) if np.isfinite(v) else "inf" for v in f64],
                    "element": "float64"},
            "f16": {"shape": [6], "values": [float(v) if np.isfinite(v) else "inf" for v in f16], "element": "float16"},
            "f32_big_endian": {"shape": [4], "values": big_endian.astype(np.float32).tolist(), "element": "float32"},
            "scalar": {"shape": [], "values": [3.25], "element": "float32"},
            "empty": {"shape": [0, 4], "values": [], "element": "float32"},
            "nested/a/b/chunked_gzip": {"shape": [100, 8], "values_sum": float(gz.astype(np.float64).sum()),
                                        "first": gz.ravel()[:4].tolist(), "element": "float32", "chunked": True},
        }
        expected["non_float"] = {"int32": "integer", "int64": "integer", "uint8": "integer", "compound": "compound",
                                 "strings": "string", "bool": "enum"}
        expected["attributes"] = {
            "fixed_scalar": ["tensorflow"], "fixed_array": ["a", "bcd", ""], "vlen_scalar": ["h\u00e9llo \u2713"],
            "vlen_array": ["x", "yy", "\u00e9"], "vlen_bytes_array": ["wav2vec2", "classifier"],
            "empty_float_array": [], "space_padded": ["ab"],
        }
        expected["non_string_attributes"] = ["int_attr", "float_array_attr"]
        expected["groups"] = {"/": sorted(["f32", "f64", "f16", "f32_big_endian", "scalar", "empty", "nested", "int32",
                                           "int64", "uint8", "compound", "strings", "bool"]),
                              "/nested/a": ["b"]}
        expected["nested_attributes"] = {"/nested/a": {"inner": ["deep"]}}
    write_json(d / "dtypes.json", expected)

    # A 512-byte user block: file addresses (e.g. of the global heap holding variable-length strings) are relative
    # to the superblock, which starts after it.
    with h5py.File(d / "userblock.h5", "w", userblock_size=512) as f:
        f.attrs["layer_names"] = np.array([b"wav2vec2", b"classifier"], dtype=h5py.string_dtype("ascii"))
        f.attrs["note"] = "user block \u2713"
        f.create_dataset("x", data=np.arange(6, dtype=np.float32).reshape(2, 3))
    with open(d / "userblock.h5", "r+b") as fh:
        fh.write(b"ipet user block test\n")

    # Our tensor container (Formats/hdf5.md §2) as other tooling would write it with h5py.
    meta = {"format": "pt", "config": json.dumps({"model_type": "wav2vec2", "hidden_size": 8}), "note": "caf\u00e9"}
    tensors = {"wav2vec2.encoder.layer_norm.weight": rng.standard_normal(8).astype(np.float32),
               "wav2vec2.encoder.layers.0.attention.q_proj.weight": rng.standard_normal((8, 8)).astype(np.float32),
               "classifier.bias": rng.standard_normal(3).astype(np.float16)}
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_link_creation_order(h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED)
    fcpl.set_attr_creation_order(h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED)
    fcpl.set_obj_track_times(False)  # no timestamps: byte-reproducible
    path = d / "container-h5py.h5"
    fid = h5py.h5f.create(str(path).encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl)
    with h5py.File(fid) as f:
        f.attrs["__ipet_layout__"] = "ipet-tensors-1"
        for k, v in meta.items():
            f.attrs[k] = v
        for k, v in tensors.items():
            f.create_dataset(k, data=v)
    write_json(d / "container-h5py.json", {
        "metadata": [[k, v] for k, v in meta.items()],
        "tensors": [{"name": k, "shape": list(v.shape), "dtype": "F16" if v.dtype == np.float16 else "F32",
                     "values": v.astype(np.float32).ravel().tolist()} for k, v in tensors.items()]})


# ----------------------------------------------------------------------------------------------------------------------
# malformed files


MODEL = "tf_wav2_vec2_model"


def keras_like(path: Path, weights: dict[str, object], *, layer_names=("wav2vec2",), group_attrs=True,
               root_layer_names=True, extra=None) -> None:
    """A small file in exactly the Keras layout (VL string name lists, one group per layer, datasets under the full
    variable names). `weights` maps variable names without the model component to arrays or dataset kwargs."""
    with h5py.File(path, "w") as f:
        if root_layer_names:
            f.attrs["layer_names"] = np.array([n.encode() for n in layer_names], dtype=h5py.string_dtype("ascii"))
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.1"
        for layer in layer_names:
            g = f.create_group(layer)
            names = [f"{MODEL}/{n}" for n in weights if n.split("/")[0] == layer]
            if group_attrs:
                g.attrs["weight_names"] = np.array([n.encode() for n in names], dtype=h5py.string_dtype("ascii"))
            for n in names:
                v = weights[n.split("/", 1)[1]]
                if isinstance(v, dict):
                    g.create_dataset(n, **v)
                elif v is not None:
                    g.create_dataset(n, data=v)
        top = f.create_group("top_level_model_weights")
        top.attrs["weight_names"] = np.zeros(0)
        if extra:
            extra(f)


def write_malformed(out: Path) -> None:
    d = out / "malformed"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    ln = "wav2vec2/encoder/layer_norm"
    ok = {f"{ln}/gamma:0": rng.standard_normal(4).astype(np.float32),
          f"{ln}/beta:0": rng.standard_normal(4).astype(np.float32)}
    expected: dict = {}

    def case(name: str, keyword: str, why: str):
        expected[name] = {"keyword": keyword, "why": why}

    (d / "not_hdf5.h5").write_text("this is not an HDF5 file\n")
    case("not_hdf5.h5", "not an HDF5 file", "plain text with an .h5 name")

    real = out / "gn-postln" / "tf_model.h5"
    raw = real.read_bytes()
    (d / "truncated.h5").write_bytes(raw[: len(raw) // 3])
    case("truncated.h5", "truncated", "the real gn-postln tf_model.h5 cut to a third")

    keras_like(d / "no_layer_names.h5", ok, root_layer_names=False)
    case("no_layer_names.h5", "layer_names", "root has neither layer_names nor layer_names0")

    keras_like(d / "no_weight_names.h5", ok, group_attrs=False)
    case("no_weight_names.h5", "weight_names", "layer group without weight_names")

    keras_like(d / "missing_dataset.h5", {**ok, f"{ln}/extra:0": None})
    case("missing_dataset.h5", "no such object", "weight_names lists a variable that has no dataset")

    keras_like(d / "missing_layer_group.h5", ok, layer_names=("wav2vec2", "classifier"))
    with h5py.File(d / "missing_layer_group.h5", "r+") as f:
        del f["classifier"]
    case("missing_layer_group.h5", "classifier", "layer_names lists a layer with no group")

    keras_like(d / "int_kernel.h5", {**ok, "wav2vec2/feature_projection/projection/kernel:0":
                                     np.arange(12, dtype=np.int32).reshape(3, 4)})
    case("int_kernel.h5", "integer", "a Dense kernel stored as int32")

    keras_like(d / "compound_dataset.h5", {**ok, "wav2vec2/feature_projection/projection/bias:0":
                                           np.zeros(4, dtype=[("re", "<f4"), ("im", "<f4")])})
    case("compound_dataset.h5", "compound", "a bias stored as a compound type")

    keras_like(d / "string_dataset.h5", {**ok, "wav2vec2/feature_projection/projection/bias:0":
                                         np.array([b"0.1", b"0.2"])})
    case("string_dataset.h5", "string", "a bias stored as strings")

    keras_like(d / "huge_dims.h5", {**ok, "wav2vec2/feature_projection/projection/kernel:0":
                                    {"shape": (2**20, 2**20), "dtype": "f4", "chunks": (64, 64)}})
    case("huge_dims.h5", "declares", "a chunked [2^20, 2^20] float32 kernel (4 TiB) with no chunk written; file is tiny")

    keras_like(d / "huge_dims_1d.h5", {**ok, "wav2vec2/feature_projection/projection/bias:0":
                                       {"shape": (2**40,), "dtype": "f4", "chunks": (1024,)}})
    case("huge_dims_1d.h5", "declares", "a chunked [2^40] float32 bias with no chunk written")

    keras_like(d / "overflow_dims.h5", {**ok, "wav2vec2/feature_projection/projection/kernel:0":
                                        {"shape": (2**31, 2**31, 2**3), "dtype": "f4", "chunks": (1, 1, 8)}})
    case("overflow_dims.h5", "overflow", "2^65 bytes: the element count times 4 overflows 64 bits")

    keras_like(d / "unwritten.h5", {**ok, "wav2vec2/feature_projection/projection/kernel:0":
                                    {"shape": (512, 512), "dtype": "f4"}})
    case("unwritten.h5", "stores", "a contiguous [512, 512] kernel whose data was never written (no storage)")

    keras_like(d / "huge_chunk.h5", {**ok, "wav2vec2/feature_projection/projection/bias:0":
                                     {"shape": (4,), "dtype": "f4", "maxshape": (None,), "chunks": (2**28,)}})
    case("huge_chunk.h5", "chunk", "a 4-element bias declared with 1 GiB chunks (reading makes libhdf5 allocate a chunk)")

    keras_like(d / "weight_g_wrong_shape.h5", {
        **ok, "wav2vec2/encoder/pos_conv_embed/conv/weight_g:0": rng.standard_normal((1, 16)).astype(np.float32),
        "wav2vec2/encoder/pos_conv_embed/conv/weight_v:0": rng.standard_normal((4, 2, 16)).astype(np.float32)})
    case("weight_g_wrong_shape.h5", "weight_g", "weight_g is [1, 16], not [K, 1, 1]")

    keras_like(d / "weight_v_mismatch.h5", {
        **ok, "wav2vec2/encoder/pos_conv_embed/conv/weight_g:0": rng.standard_normal((16, 1, 1)).astype(np.float32),
        "wav2vec2/encoder/pos_conv_embed/conv/weight_v:0": rng.standard_normal((4, 2, 15)).astype(np.float32)})
    case("weight_v_mismatch.h5", "weight_v", "weight_v has kernel size 15 but weight_g 16")

    keras_like(d / "gamma_2d.h5", {f"{ln}/gamma:0": rng.standard_normal((4, 1)).astype(np.float32),
                                   f"{ln}/beta:0": rng.standard_normal(4).astype(np.float32)})
    case("gamma_2d.h5", "gamma", "a LayerNorm gamma of shape [4, 1]")

    keras_like(d / "kernel_1d.h5", {**ok, "wav2vec2/feature_projection/projection/kernel:0":
                                    rng.standard_normal(16).astype(np.float32)})
    case("kernel_1d.h5", "kernel", "a Dense kernel of rank 1")

    # Two groups whose variables map to the same PyTorch name.
    def dup(f):
        g = f.create_group("wav2vec2_1")
        names = [f"{MODEL}/{ln}/gamma:0"]
        g.attrs["weight_names"] = np.array([n.encode() for n in names], dtype=h5py.string_dtype("ascii"))
        g.create_dataset(names[0], data=np.ones(4, np.float32))
        f.attrs["layer_names"] = np.array([b"wav2vec2", b"wav2vec2_1"], dtype=h5py.string_dtype("ascii"))

    keras_like(d / "duplicate_names.h5", ok, extra=dup)
    case("duplicate_names.h5", "duplicate", "two variables that both map to wav2vec2.encoder.layer_norm.weight")

    # Links and storage that point outside the file.
    with h5py.File(d / "outside.h5", "w") as f:
        f.create_dataset(f"{MODEL}/{ln}/gamma:0", data=np.ones(4, np.float32))

    def elink(f):
        f["wav2vec2"][f"{MODEL}/wav2vec2/feature_projection"] = h5py.ExternalLink("outside.h5", f"/{MODEL}/{ln}")
        names = list(f["wav2vec2"].attrs["weight_names"]) + [f"{MODEL}/wav2vec2/feature_projection/gamma:0".encode()]
        f["wav2vec2"].attrs["weight_names"] = np.array(names, dtype=h5py.string_dtype("ascii"))

    keras_like(d / "external_link.h5", ok, extra=elink)
    case("external_link.h5", "external link", "a weight reached through an external link into outside.h5")

    (d / "raw.bin").write_bytes(np.ones(4, np.float32).tobytes())
    keras_like(d / "external_storage.h5", {**ok, "wav2vec2/feature_projection/projection/bias:0":
                                           {"shape": (4,), "dtype": "f4", "external": [("raw.bin", 0, 16)]}})
    case("external_storage.h5", "external", "a dataset whose raw data lives in another file (raw.bin)")

    def virtual(f):
        layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
        layout[:] = h5py.VirtualSource("outside.h5", f"/{MODEL}/{ln}/gamma:0", shape=(4,))
        g = f["wav2vec2"]
        name = f"{MODEL}/wav2vec2/feature_projection/projection/bias:0"
        dcpl = layout._get_dcpl(f.filename)
        dcpl.set_obj_track_times(False)  # no timestamps: byte-reproducible
        layout._get_dcpl = lambda _filename: dcpl
        g.create_virtual_dataset(name, layout)
        names = list(g.attrs["weight_names"]) + [name.encode()]
        g.attrs["weight_names"] = np.array(names, dtype=h5py.string_dtype("ascii"))

    keras_like(d / "virtual_dataset.h5", ok, extra=virtual)
    case("virtual_dataset.h5", "virtual", "a virtual dataset mapping data from outside.h5")

    # Corruptions that libhdf5 1.10.8 itself mishandles (found by fuzzing): the reader must refuse them first.
    keras_like(d / "local_heap_cycle.h5", ok)
    raw = bytearray((d / "local_heap_cycle.h5").read_bytes())
    for at in range(len(raw) - 32):
        if raw[at:at + 8] == b"HEAP\0\0\0\0":
            head = int.from_bytes(raw[at + 16:at + 24], "little")
            data = int.from_bytes(raw[at + 24:at + 32], "little")
            if head != 1:  # a heap with a free block: make the block its own successor
                raw[data + head:data + head + 8] = head.to_bytes(8, "little")
                break
    else:
        raise RuntimeError("no local heap with a free list")
    (d / "local_heap_cycle.h5").write_bytes(bytes(raw))
    case("local_heap_cycle.h5", "free list loops", "a group name heap whose free list is a cycle (libhdf5 allocates forever)")

    keras_like(d / "global_heap_overrun.h5", ok)
    raw = bytearray((d / "global_heap_overrun.h5").read_bytes())
    at = raw.index(b"GCOL\x01")
    obj = at + 16  # first object: grow its size far past the collection
    size = int.from_bytes(raw[obj + 8:obj + 16], "little")
    raw[obj + 8:obj + 16] = (size + 0x100000).to_bytes(8, "little")
    (d / "global_heap_overrun.h5").write_bytes(bytes(raw))
    case("global_heap_overrun.h5", "overruns", "a variable-length name whose heap object claims 1 MiB more than its "
         "collection holds (libhdf5 copies it over the string's buffer)")

    # Sharded index problems.
    shard_dir = d / "sharded-escape"
    shard_dir.mkdir(exist_ok=True)
    (shard_dir / "tf_model.h5.index.json").write_text(json.dumps(
        {"metadata": {"total_size": 16}, "weight_map": {f"{MODEL}/{ln}/gamma:0": "../outside.h5"}}, indent=2) + "\n")
    case("sharded-escape/tf_model.h5.index.json", "shard", "weight_map names a file outside the folder")

    shard_dir = d / "sharded-missing"
    shard_dir.mkdir(exist_ok=True)
    with h5py.File(shard_dir / "tf_model-00001-of-00001.h5", "w") as f:
        f.create_dataset(f"{ln}/gamma:0", data=np.ones(4, np.float32))
        f.attrs["layer_names"] = np.array([f"{ln}/gamma:0".encode()], dtype=h5py.string_dtype("ascii"))
    (shard_dir / "tf_model.h5.index.json").write_text(json.dumps(
        {"metadata": {"total_size": 32}, "weight_map": {f"{MODEL}/{ln}/gamma:0": "tf_model-00001-of-00001.h5",
                                                         f"{MODEL}/{ln}/beta:0": "tf_model-00001-of-00001.h5"}},
        indent=2) + "\n")
    case("sharded-missing/tf_model.h5.index.json", "beta", "the index lists a weight that its shard does not hold")

    write_json(d / "expected.json", expected)


# ----------------------------------------------------------------------------------------------------------------------


def write_listing(path: Path, listing: dict) -> None:
    """Like write_json (sorted keys, 2-space indent) but one weight per line, to keep the file small."""
    compact = {}

    def stash(obj):
        if isinstance(obj, dict):
            return {k: stash(v) for k, v in obj.items()}
        if isinstance(obj, list) and obj and all(isinstance(x, dict) and "tf_name" in x for x in obj):
            keys = []
            for x in obj:
                key = f"@@{len(compact)}@@"
                compact[key] = json.dumps(x, sort_keys=True, ensure_ascii=False)
                keys.append(key)
            return keys
        return obj

    text = json.dumps(stash(listing), indent=2, sort_keys=True, ensure_ascii=False)
    for key, value in compact.items():
        text = text.replace(f'"{key}"', value)
    path.write_text(text + "\n", encoding="utf-8")


def inspect(path: Path) -> None:
    with h5py.File(path, "r") as f:
        print(f"{path}: root attributes")
        for k in f.attrs:
            print(f"  {k} = {f.attrs[k]!r}")

        def show(name, obj):
            if isinstance(obj, h5py.Dataset):
                print(f"  {name}: {obj.dtype} {obj.shape} first={obj[()].ravel()[:3].tolist() if obj.size else []}")
        f.visititems(show)


def build(target: Path) -> None:
    """Writes every fixture into `target` (byte-reproducible: no HDF5 timestamps, seeded values; config.json records
    the absolute path of its source folder, so --check agrees only in a checkout at the same place)."""
    target.mkdir(parents=True, exist_ok=True)
    listing = convert_all(target)
    write_generic(target)
    write_malformed(target)
    write_listing(target / "tf-names.json", listing)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(f"wrote {target} ({size / 1e6:.2f} MB)")
    for name, check in listing["checks"].items():
        print(f"  {name}: {check}")


def main() -> int:
    ap = fixture_arguments(__doc__, OUT)
    ap.add_argument("--inspect", type=Path, help="print an HDF5 file's attributes and datasets")
    args = ap.parse_args()
    if args.inspect:
        inspect(args.inspect)
        return 0
    if args.check:
        return check_regeneration(OUT, build)
    build(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
