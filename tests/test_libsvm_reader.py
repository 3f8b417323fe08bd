"""The C reader of libsvm / svmlight files with multi-label lists, through sl.load_libsvm."""

import gzip

import numpy as np
import pytest
import scipy.sparse as sp

import libslide as sl

# Comments, a skipped blank line, a point without labels, qid, unsorted features, no final newline.
VALID = "# made by hand\n0,2 1:1.5 4:2  # first\n\n 2:0.25\n3 qid:9 6:1e-1 3:3"
X_VALID = [[1.5, 0, 0, 2, 0, 0], [0, 0.25, 0, 0, 0, 0], [0, 0, 3, 0, 0, 0.1]]
Y_VALID = [[1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1]]


def write(tmp_path, text, name="data.svm"):
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def assert_valid(X, Y):
    assert X.shape == (3, 6) and Y.shape == (3, 4)
    assert X.dtype == np.float32
    np.testing.assert_allclose(X.toarray(), X_VALID, rtol=1e-6)
    np.testing.assert_array_equal(Y.toarray(), Y_VALID)


def test_hand_written_csr(tmp_path):
    X, Y = sl.load_libsvm(write(tmp_path, VALID))
    # Exact CSR arrays: ids minus the base, in file order (features are not sorted).
    np.testing.assert_array_equal(X.indptr, [0, 2, 3, 5])
    np.testing.assert_array_equal(X.indices, [0, 3, 1, 5, 2])
    np.testing.assert_array_equal(X.data, np.float32([1.5, 2, 0.25, 0.1, 3]))
    np.testing.assert_array_equal(Y.indptr, [0, 2, 2, 3])
    np.testing.assert_array_equal(Y.indices, [0, 2, 3])
    assert_valid(X, Y)


@pytest.mark.parametrize("variant", [
    "crlf", "no final newline", "blank lines in the middle", "blank lines at the end", "trailing whitespace",
    "tabs", "comment lines", "gzip",
])
def test_edge_cases_load_the_same_data(tmp_path, variant):
    text, name = VALID + "\n", "data.svm"
    if variant == "crlf":
        text = text.replace("\n", "\r\n")
    elif variant == "no final newline":
        text = text.rstrip("\n")
    elif variant == "blank lines in the middle":
        text = text.replace("\n", "\n\n \t\n", 2)
    elif variant == "blank lines at the end":
        text += "\n\n  \r\n\t\n"
    elif variant == "trailing whitespace":
        text = text.replace("\n", " \t \n")
    elif variant == "tabs":
        text = text.replace(" 1:", "\t1:").replace(" 6:", "\t\t6:").replace(" 2:", "\t2:")
    elif variant == "comment lines":
        text = "#\n" + text.replace("\n", "\n# between points 1:1\n")
    elif variant == "gzip":
        text, name = gzip.compress(text.encode()), "data.svm.gz"
    assert_valid(*sl.load_libsvm(write(tmp_path, text, name)))


def test_bases_and_explicit_widths(tmp_path):
    p = write(tmp_path, "1,3 0:1 5:2\n 2:4\n")
    X, Y = sl.load_libsvm(p, feature_base=0, label_base=0)
    assert X.shape == (2, 6) and Y.shape == (2, 4)
    X, Y = sl.load_libsvm(p, n_features=10, n_labels=8, feature_base=0, label_base=1)
    assert X.shape == (2, 10) and Y.shape == (2, 8)
    np.testing.assert_array_equal(Y.indices, [0, 2])
    with pytest.raises(sl.FormatError, match=r"data\.svm:1: feature id 0 out of range \[1, 2147483648\)"):
        sl.load_libsvm(p)  # 0-based file read with the default base 1


def test_empty_and_comment_only_files(tmp_path):
    for text in ["", "\n\n", "# nothing here\r\n"]:
        X, Y = sl.load_libsvm(write(tmp_path, text))
        assert X.shape == (0, 0) and Y.shape == (0, 0)
    X, Y = sl.load_libsvm(write(tmp_path, ""), n_features=5, n_labels=3)
    assert X.shape == (0, 5) and Y.shape == (0, 3)


def test_line_across_read_chunks(tmp_path):
    n = 120_000  # about 1.3 MB on one line: several 256 KiB chunks
    rng = np.random.default_rng(0)
    ids = rng.permutation(n)
    vals = rng.integers(0, 1000, n)
    line = "5 " + " ".join(f"{i + 1}:{v}.25" for i, v in zip(ids, vals))
    X, Y = sl.load_libsvm(write(tmp_path, "# head\n" + line + "\r\n1 3:1"))
    assert X.shape == (2, n) and len(line) > 4 * 2**18
    np.testing.assert_array_equal(X.indices[:n], ids)
    np.testing.assert_array_equal(X.data[:n], vals.astype(np.float32) + np.float32(0.25))
    np.testing.assert_array_equal(Y.indices, [5, 1])


def reference_parse(text, feature_base=1, label_base=0):
    """Plain-Python parser of the same format, for comparison (no scikit-learn)."""
    data, indices, indptr, lab, lab_ptr = [], [], [0], [], [0]
    for raw in text.splitlines():
        line = raw.split("#", 1)[0]
        if not line.strip():
            continue
        labels, _, rest = line.partition(" ") if not line[0].isspace() else ("", "", line)
        if "\t" in labels:
            labels, _, tail = labels.partition("\t")
            rest = tail + " " + rest
        lab += [int(t) - label_base for t in labels.split(",") if t]
        for tok in rest.split():
            if tok.startswith("qid:"):
                continue
            i, v = tok.split(":")
            indices.append(int(i) - feature_base)
            data.append(np.float32(v))
        indptr.append(len(indices))
        lab_ptr.append(len(lab))
    X = sp.csr_matrix((np.array(data, np.float32), indices, indptr), shape=(len(indptr) - 1, max(indices) + 1))
    Y = sp.csr_matrix((np.ones(len(lab), np.float32), lab, lab_ptr), shape=(len(lab_ptr) - 1, max(lab) + 1))
    return X, Y


def test_matches_a_reference_parser_on_random_files(tmp_path):
    rng = np.random.default_rng(1)
    lines = []
    for r in range(300):
        labels = ",".join(str(x) for x in rng.choice(50, rng.integers(0, 4), replace=False))
        feats = rng.choice(2000, rng.integers(0, 30), replace=False) + 1
        vals = [f"{v:.6g}" if r % 3 else f"{v:.3e}" for v in rng.normal(size=len(feats)) * 10.0 ** rng.integers(-5, 5)]
        sep = "\t" if r % 7 == 0 else " "
        line = labels + "".join(f"{sep}{i}:{v}" for i, v in zip(feats, vals))
        if r % 11 == 0:
            line += "  # note 3:4"
        if r % 13 == 0:
            lines.append("")
        if not line.strip():
            line = " 1:0"  # a blank line would be skipped, not a point
        lines.append(line)
    text = "\r\n".join(lines)
    X, Y = sl.load_libsvm(write(tmp_path, text))
    Xr, Yr = reference_parse(text)
    assert X.shape == Xr.shape and Y.shape == Yr.shape
    np.testing.assert_array_equal(X.indptr, Xr.indptr)
    np.testing.assert_array_equal(X.indices, Xr.indices)
    np.testing.assert_array_equal(X.data, Xr.data)  # both round the decimal text to float32 correctly
    np.testing.assert_array_equal(Y.indptr, Yr.indptr)
    np.testing.assert_array_equal(Y.indices, Yr.indices)


@pytest.mark.parametrize("text, line, phrase", [
    ("0 1:abc\n", 1, "bad value 'abc' for feature 1"),
    ("0 1:1\n\n1 0:2\n", 3, "feature id 0 out of range [1, 2147483648) (ids are 1-based"),
    ("0 1:1 1:2\n", 1, "duplicate feature id 1"),
    ("0 1:1 qid:4\n", 1, "qid:<n> must come right after the labels"),
    ("2 6 4\n0 1:1\n", 1, "Extreme Classification header"),
    ("0 1:1\n1 3:", 2, "truncated line"),
])
def test_malformed_files_name_file_line_and_problem(tmp_path, text, line, phrase):
    p = write(tmp_path, text)
    with pytest.raises(sl.FormatError) as err:
        sl.load_libsvm(p)
    assert f"{p}:{line}: " in str(err.value) and phrase in str(err.value), str(err.value)


def test_truncated_gzip_fails(tmp_path):
    data = gzip.compress((VALID + "\n").encode() * 100)
    with pytest.raises(sl.FormatError, match="corrupt gzip data"):
        sl.load_libsvm(write(tmp_path, data[: len(data) // 2], "cut.svm.gz"))


@pytest.mark.parametrize("kw", [dict(feature_base=2), dict(label_base=-1), dict(feature_base=True),
                                dict(n_features=0), dict(n_labels=2**31), dict(n_features=1.5)])
def test_bad_arguments(tmp_path, kw):
    with pytest.raises(sl.InvalidArgumentError):
        sl.load_libsvm(write(tmp_path, VALID), **kw)


def test_arrays_are_views_and_keep_the_dataset_alive(tmp_path):
    X, Y = sl.load_libsvm(write(tmp_path, VALID))
    assert X.indices.base is not None and X.data.base is not None
    del Y
    import gc

    gc.collect()
    assert X.sum() == pytest.approx(1.5 + 2 + 0.25 + 3 + 0.1, rel=1e-6)
