"""Catalogue of bad inputs and the exact error each one gets.

docs/errors.md is generated from this file (`python tests/error_cases.py > docs/errors.md`) and
tests/test_error_catalogue.py checks that every documented message is still the one libslide gives.
Paths in messages are shown relative to a scratch directory, written `{dir}`.
"""

import gzip
import os
import sys
import tempfile

import numpy as np
import scipy.sparse as sp

import libslide as sl

XC_OK = "3 6 4\n0,2 0:1.5 3:2\n 1:0.25\n3 5:1e-1 2:3\n"
SVM_OK = "0,2 1:1.5 4:2\n 2:0.25\n3 6:1e-1 3:3\n"
SVM = "data.svm"


def _xc(d, text, name="data.txt"):
    p = os.path.join(d, name)
    with open(p, "wb") as f:
        f.write(text.encode() if isinstance(text, str) else text)
    return p


def _net(**kw):
    layers = kw.pop("layers", [sl.Layer(8), sl.Layer(5, activation="softmax")])
    return sl.Network(input_dim=kw.pop("input_dim", 10), layers=layers, threads=1, **kw)


def _model(d):
    p = os.path.join(d, "model.slide")
    _net().save(p)
    return p


def _edit(path, fn):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data = fn(data)
    with open(path, "wb") as f:
        f.write(bytes(data))
    return path


def _flip(data):
    data[len(data) // 2] ^= 0x40
    return data


def _version(data):
    data[8] = 9
    return data


def _bad_storage(d):
    p = os.path.join(d, "model.slide")
    # a version 2 file (bfloat16, no catch-up, no logQ): 48-byte network record, 168-byte layer records
    _net(layers=[sl.Layer(8), sl.Layer(5, activation="softmax", sampling=sl.LSH(logq_correction=False),
                                       storage="bfloat16")], optimizer=sl.Adam(catch_up=False)).save(p)

    def edit(data):
        data[24 + 48 + 160] = 5  # layer 0's storage field: after the file header, network record and 160 bytes
        return data
    sl.Network.load(_edit(p, edit))


def _reserved_word(d):
    p = os.path.join(d, "model.slide")
    _net(optimizer=sl.Adam(catch_up=False)).save(p)  # all float32, no weight decay, no catch-up: version 1

    def edit(data):
        data[24 + 44:24 + 48] = bytes([0, 0, 128, 62])  # the network record's last word (0.25): reserved before version 3
        return data
    sl.Network.load(_edit(p, edit))


def _nan_loss(d):
    net = _net()
    net.layers[1].weights[...] = 3e38
    net.layers[1].bias[...] = 3e38
    net.fit(np.ones((4, 10), np.float32), np.array([0, 1, 2, 3]), epochs=1, progress=False)


def _x(d, **kw):
    return np.ones((2, 10), np.float32)


# (area, input, function(scratch_dir) that must raise)
CASES = [
    ("data file", "value is not a number (`3:abc`)", lambda d: sl.load_xc(_xc(d, "1 6 4\n0 3:abc\n"))),
    ("data file", "value is NaN (`3:nan`)", lambda d: sl.load_xc(_xc(d, "1 6 4\n0 3:nan\n"))),
    ("data file", "value is infinite (`3:inf`)", lambda d: sl.load_xc(_xc(d, "1 6 4\n0 3:inf\n"))),
    ("data file", "feature id beyond the header's count", lambda d: sl.load_xc(_xc(d, "1 6 4\n0 9:1\n"))),
    ("data file", "negative feature id", lambda d: sl.load_xc(_xc(d, "1 6 4\n0 -1:1\n"))),
    ("data file", "label id beyond the header's count", lambda d: sl.load_xc(_xc(d, "1 6 4\n7 1:1\n"))),
    ("data file", "label is not an integer", lambda d: sl.load_xc(_xc(d, "1 6 4\nx 1:1\n"))),
    ("data file", "duplicate feature id in a row", lambda d: sl.load_xc(_xc(d, "1 6 4\n0 1:1 1:2\n"))),
    ("data file", "duplicate label in a row", lambda d: sl.load_xc(_xc(d, "1 6 4\n0,0 1:1\n"))),
    ("data file", "fewer points than the header says", lambda d: sl.load_xc(_xc(d, "3 6 4\n0 1:1\n"))),
    ("data file", "more points than the header says", lambda d: sl.load_xc(_xc(d, "1 6 4\n0 1:1\n1 2:1\n"))),
    ("data file", "header with two numbers", lambda d: sl.load_xc(_xc(d, "1 6\n0 1:1\n"))),
    ("data file", "header with a word", lambda d: sl.load_xc(_xc(d, "one 6 4\n0 1:1\n"))),
    ("data file", "empty line between points", lambda d: sl.load_xc(_xc(d, "2 6 4\n0 1:1\n\n1 2:1\n"))),
    ("data file", "truncated feature (`3:`)", lambda d: sl.load_xc(_xc(d, "1 6 4\n0 3:\n"))),
    ("data file", "dangling comma in the labels (`0,`)", lambda d: sl.load_xc(_xc(d, "1 6 4\n0, 3:1\n"))),
    ("data file", "feature without a colon (`3 2`)", lambda d: sl.load_xc(_xc(d, "1 6 4\n0 3 2\n"))),
    ("data file", "gzip file cut short", lambda d: sl.load_xc(_xc(d, gzip.compress(XC_OK.encode())[:-6], "c.gz"))),
    ("data file", "file does not exist", lambda d: sl.load_xc(os.path.join(d, "missing.txt"))),
    ("data file", "empty file", lambda d: sl.load_xc(_xc(d, ""))),
    ("data file", "header only, points missing", lambda d: sl.load_xc(_xc(d, "2 6 4\n"))),
    ("data file", "blank lines at the end instead of the last point",
     lambda d: sl.load_xc(_xc(d, "2 6 4\r\n0 1:1\r\n\r\n\r\n"))),
    ("data file", "stray number after a tab (`1:0.5\\t7`)", lambda d: sl.load_xc(_xc(d, "1 6 4\n0 1:0.5\t7\n"))),
    ("data file", "line broken by a lone CR", lambda d: sl.load_xc(_xc(d, "1 6 4\n0 1:1\r2:1\n"))),
    ("libsvm file", "value is not a number (`3:abc`)", lambda d: sl.load_libsvm(_xc(d, "0 3:abc\n", SVM))),
    ("libsvm file", "value is infinite (`3:-inf`)", lambda d: sl.load_libsvm(_xc(d, "0 3:-inf\n", SVM))),
    ("libsvm file", "feature id 0 in a 1-based file", lambda d: sl.load_libsvm(_xc(d, "0 1:1\n1 0:1\n", SVM))),
    ("libsvm file", "feature id beyond n_features", lambda d: sl.load_libsvm(_xc(d, "0 7:1\n", SVM), n_features=6)),
    ("libsvm file", "negative feature id", lambda d: sl.load_libsvm(_xc(d, "0 -1:1\n", SVM), n_features=6)),
    ("libsvm file", "label beyond n_labels", lambda d: sl.load_libsvm(_xc(d, "0,4 1:1\n", SVM), n_labels=4)),
    ("libsvm file", "binary label `-1`", lambda d: sl.load_libsvm(_xc(d, "-1 1:1\n", SVM), n_labels=2)),
    ("libsvm file", "label 0 with label_base=1", lambda d: sl.load_libsvm(_xc(d, "0 1:1\n", SVM), label_base=1)),
    ("libsvm file", "duplicate feature id in a row", lambda d: sl.load_libsvm(_xc(d, "0 2:1 5:1 2:3\n", SVM))),
    ("libsvm file", "feature without labels, no leading blank",
     lambda d: sl.load_libsvm(_xc(d, "# points\n1:1 2:1\n", SVM))),
    ("libsvm file", "feature without a colon (`3 2`)", lambda d: sl.load_libsvm(_xc(d, "0 3 2\n", SVM))),
    ("libsvm file", "truncated last line (`3:`, no newline)", lambda d: sl.load_libsvm(_xc(d, "0 1:1\n1 3:", SVM))),
    ("libsvm file", "qid that is not an integer", lambda d: sl.load_libsvm(_xc(d, "0 qid:a 1:1\n", SVM))),
    ("libsvm file", "qid after the features", lambda d: sl.load_libsvm(_xc(d, "0 1:1 qid:3\n", SVM))),
    ("libsvm file", "an XC file read as libsvm", lambda d: sl.load_libsvm(_xc(d, XC_OK, SVM))),
    ("libsvm file", "gzip file cut short",
     lambda d: sl.load_libsvm(_xc(d, gzip.compress(SVM_OK.encode() * 50)[:-6], "c.svm.gz"))),
    ("libsvm file", "file does not exist", lambda d: sl.load_libsvm(os.path.join(d, "missing.svm"))),
    ("argument", "feature_base = 2 in load_libsvm", lambda d: sl.load_libsvm(_xc(d, SVM_OK, SVM), feature_base=2)),
    ("argument", "n_features = 0 in load_libsvm", lambda d: sl.load_libsvm(_xc(d, SVM_OK, SVM), n_features=0)),
    ("model file", "one bit flipped", lambda d: sl.Network.load(_edit(_model(d), _flip))),
    ("model file", "truncated", lambda d: sl.Network.load(_edit(_model(d), lambda b: b[:200]))),
    ("model file", "not a model (a zip file)", lambda d: sl.Network.load(_xc(d, b"PK\x03\x04" + b"\0" * 64, "z.slide"))),
    ("model file", "format version from the future", lambda d: sl.Network.load(_edit(_model(d), _version))),
    ("model file", "empty file", lambda d: sl.Network.load(_xc(d, b"", "empty.slide"))),
    ("model file", "file does not exist", lambda d: sl.Network.load(os.path.join(d, "missing.slide"))),
    ("argument", "X has the wrong number of columns",
     lambda d: _net().train_batch(np.ones((2, 11), np.float32), [np.array([0]), np.array([1])])),
    ("argument", "X is 1-D", lambda d: _net().predict_topk(np.ones(10, np.float32))),
    ("argument", "X holds strings", lambda d: _net().predict_topk(np.array([["a"] * 10]))),
    ("argument", "NaN in X", lambda d: _net().train_batch(np.full((1, 10), np.nan, np.float32), [np.array([0])])),
    ("argument", "label id beyond the output layer", lambda d: _net().train_batch(_x(d), [np.array([0]), np.array([9])])),
    ("argument", "Y has fewer rows than X", lambda d: _net().train_batch(_x(d), [np.array([0])])),
    ("argument", "row id out of range", lambda d: _net().train_batch(_x(d), [np.array([0])] * 2, rows=[0, 5])),
    ("argument", "k = 0 in predict_topk", lambda d: _net().predict_topk(_x(d), k=0)),
    ("argument", "unknown predict mode", lambda d: _net().predict_topk(_x(d), mode="fast")),
    ("argument", "unknown hash backend",
     lambda d: _net(layers=[sl.Layer(5, activation="softmax", sampling=sl.LSH("nope"))])),
    ("argument", "last layer is not softmax", lambda d: _net(layers=[sl.Layer(5)])),
    ("argument", "softmax before the last layer",
     lambda d: _net(layers=[sl.Layer(5, activation="softmax"), sl.Layer(5, activation="softmax")])),
    ("argument", "zero units", lambda d: _net(layers=[sl.Layer(0, activation="softmax")])),
    ("argument", "DWTA bin size not a power of two",
     lambda d: _net(layers=[sl.Layer(5, activation="softmax", sampling=sl.LSH("dwta", bin_size=3))])),
    ("argument", "active fraction above 1",
     lambda d: _net(layers=[sl.Layer(5, activation="softmax", sampling=sl.LSH(active=1.5))])),
    ("argument", "threshold above the number of tables",
     lambda d: _net(layers=[sl.Layer(5, activation="softmax", sampling=sl.LSH(rule="threshold", threshold=99, tables=4))])),
    ("argument", "absurd layer size (2^31 x 2^31 weights)",
     lambda d: sl.Network(input_dim=2**31 - 1, layers=[sl.Layer(2**31 - 1, activation="softmax")], threads=1)),
    ("argument", "negative thread count", lambda d: setattr(_net(), "threads", -1)),
    ("argument", "random share above 1",
     lambda d: _net(layers=[sl.Layer(5, activation="softmax", sampling=sl.LSH(random_fraction=1.5))])),
    ("training", "loss becomes NaN (weights overflow)", _nan_loss),
    ("argument", "bfloat16 storage on a fully computed layer",
     lambda d: _net(layers=[sl.Layer(8, storage="bfloat16"), sl.Layer(5, activation="softmax")])),
    ("argument", "unknown storage name",
     lambda d: _net(layers=[sl.Layer(5, activation="softmax", sampling=sl.LSH(), storage="fp16")])),
    ("argument", "weights of the wrong shape assigned", lambda d: setattr(_net().layers[1], "weights", np.zeros((3, 8)))),
    ("model file", "unknown storage type in a layer record", _bad_storage),
    ("argument", "negative weight decay", lambda d: _net(optimizer=sl.Adam(weight_decay=-0.1))),
    ("argument", "lr * weight_decay >= 1", lambda d: _net(optimizer=sl.SGD(lr=0.5, weight_decay=2.0))),
    ("model file", "non-zero reserved word in a version 1 file", _reserved_word),
    ("argument", "active count (an int) above the layer's units",
     lambda d: _net(layers=[sl.Layer(5, activation="softmax", sampling=sl.LSH(active=9))])),
    ("argument", "active = 0 (an int counts neurons)",
     lambda d: _net(layers=[sl.Layer(5, activation="softmax", sampling=sl.LSH(active=0))])),
    ("argument", "Adam beta1 = 1", lambda d: _net(optimizer=sl.Adam(beta1=1.0))),
    ("argument", "rebuild period 0",
     lambda d: _net(layers=[sl.Layer(5, activation="softmax", sampling=sl.LSH(rebuild_every=0))])),
    ("argument", "no layers", lambda d: _net(layers=[])),
    ("argument", "hash tables too small for the layer (2 x 64 x 16 slots, 20,000 neurons)",
     lambda d: _net(layers=[sl.Layer(8), sl.Layer(20000, activation="softmax",
                                                  sampling=sl.LSH(k=6, tables=2, bucket_size=16))])),
    ("argument", "table_stats of a fully computed layer", lambda d: _net().table_stats(0)),
    # issue 16: the second round of bad input
    ("argument", "NUL byte in a save path", lambda d: _net().save(os.path.join(d, "m.slide\0.bak"))),
    ("argument", "NUL byte in a data path", lambda d: sl.load_xc("x\0y")),
    ("argument", "NUL byte in a hash name",
     lambda d: _net(layers=[sl.Layer(5, activation="softmax", sampling=sl.LSH("simhash\0x"))])),
    ("model file", "save onto a FIFO", lambda d: (os.mkfifo(os.path.join(d, "fifo")),
                                                   _net().save(os.path.join(d, "fifo")))),
    ("model file", "save onto a directory", lambda d: _net().save(d)),
    ("model file", "save into a missing directory", lambda d: _net().save(os.path.join(d, "no", "m.slide"))),
    ("model file", "load a FIFO", lambda d: (os.mkfifo(os.path.join(d, "fifo")),
                                              sl.Network.load(os.path.join(d, "fifo")))),
    ("model file", "load a directory", lambda d: sl.Network.load(d)),
    ("argument", "NaN in X at prediction", lambda d: _net().predict_topk(np.array([[0] * 9 + [np.nan]], np.float32))),
    ("argument", "inf in sparse X at evaluation",
     lambda d: _net().evaluate(sp.csr_matrix(np.array([[0, np.inf] + [0] * 8], np.float32)), [[0]])),
    ("argument", "label id 2^32 + 3 (would wrap to 3)", lambda d: _net().train_batch(_x(d), np.array([0, 2**32 + 3]))),
    ("argument", "label repeated in a row", lambda d: _net().train_batch(_x(d), [[1, 3, 1], [0]])),
    ("argument", "label repeated in a row, at evaluation", lambda d: _net().evaluate(_x(d), [[1], [2, 2]])),
    ("argument", "a float label in a row", lambda d: _net().train_batch(_x(d), [[0], [1.5]])),
    ("argument", "CSR data shorter than indices",
     lambda d: _net().predict_topk(_short_data())),
    ("argument", "validation data of the wrong width",
     lambda d: _net().fit(_x(d), [[0], [1]], validation_data=(np.ones((2, 3)), [[0], [1]]), progress=False)),
    ("argument", "negative eval_sample", lambda d: _net().fit(_x(d), [[0], [1]], eval_sample=-1, progress=False)),
    ("argument", "ks = 0 in evaluate", lambda d: _net().evaluate(_x(d), [[0], [1]], ks=0)),
    ("argument", "5,000 threads at creation", lambda d: _net_threads(5000)),
    ("argument", "init_v with a size below the 0.1 struct", lambda d: _init_too_small()),
    ("argument", "negative learning rate", lambda d: _net(optimizer=sl.Adam(lr=-0.001))),
    ("argument", "5,000 hash tables",
     lambda d: _net(layers=[sl.Layer(5, activation="softmax", sampling=sl.LSH(tables=5000))])),
    ("data file", "UTF-8 byte-order mark before the header", lambda d: sl.load_xc(_xc(d, b"\xef\xbb\xbf" + XC_OK.encode()))),
    ("data file", "gzip data followed by garbage",
     lambda d: sl.load_xc(_xc(d, gzip.compress(XC_OK.encode()) + b"garbage!!", "c.gz"))),
    ("libsvm file", "UTF-8 byte-order mark at the start", lambda d: sl.load_libsvm(_xc(d, b"\xef\xbb\xbf" + SVM_OK.encode(), SVM))),
    ("argument", "fit holding out every row", lambda d: _net().fit(_x(d), [[0], [1]], holdout=2, progress=False)),
    ("argument", "fit holdout as an unknown word", lambda d: _net().fit(_x(d), [[0], [1]], holdout="all", progress=False)),
    ("argument", "lr_plateau with no rows to watch",
     lambda d: _net().fit(_x(d), [[0], [1]], lr_plateau=0.5, progress=False)),
    ("argument", "average with no rows to watch",
     lambda d: _net().fit(_x(d), [[0], [1]], average=True, progress=False)),
]


def _short_data():
    A = sp.csr_matrix(np.eye(2, 10, dtype=np.float32))
    A.data = A.data[:1].copy()
    return A


def _net_threads(n):
    return sl.Network(input_dim=10, layers=[sl.Layer(5, activation="softmax")], threads=n)


def _init_too_small():
    from libslide._api import check, ffi, lib

    c = ffi.new("slide_lsh_config *")
    check(lib.slide_lsh_config_init_v(c, 8))


def run_case(fn):
    """(exception class name, message with the scratch directory replaced by {dir})."""
    with tempfile.TemporaryDirectory() as d:
        try:
            fn(d)
        except sl.SlideError as exc:
            return type(exc).__name__, str(exc).replace(d, "{dir}")
        raise AssertionError("no error raised")


def markdown() -> str:
    lines = [
        "# Errors: what each bad input gets",
        "",
        "Generated by `python tests/error_cases.py > docs/errors.md`; `tests/test_error_catalogue.py` checks",
        "that libslide still gives exactly these messages. `{dir}` stands for the directory of the file.",
        "Every exception is a `libslide.SlideError`; the class also derives from the matching built-in",
        "(`ValueError` for InvalidArgumentError and FormatError, `OSError` for SlideIOError, `MemoryError` for",
        "SlideMemoryError, `ArithmeticError` for NumericError, `LookupError` for NotFoundError).",
        "",
        "| # | area | bad input | exception | message |",
        "|---|---|---|---|---|",
    ]
    for i, (area, what, fn) in enumerate(CASES, 1):
        cls, msg = run_case(fn)
        lines.append(f"| {i} | {area} | {what} | {cls} | `{msg}` |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
