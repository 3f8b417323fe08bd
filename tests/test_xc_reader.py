"""The C reader of Extreme Classification Repository files, through sl.load_xc."""

import gzip

import numpy as np
import pytest

import libslide as sl

VALID = "3 6 4\n0,2 0:1.5 3:2\n 1:0.25\n3 5:1e-1 2:3\n"


def write(tmp_path, text, name="data.txt"):
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def test_valid_file_loads_exactly(tmp_path):
    X, Y = sl.load_xc(write(tmp_path, VALID))
    assert X.shape == (3, 6) and Y.shape == (3, 4)
    np.testing.assert_allclose(X.toarray(), [[1.5, 0, 0, 2, 0, 0], [0, 0.25, 0, 0, 0, 0], [0, 0, 3, 0, 0, 0.1]],
                               rtol=1e-6)
    np.testing.assert_array_equal(Y.toarray(), [[1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1]])
    assert X.dtype == np.float32


def test_crlf_and_missing_final_newline(tmp_path):
    X, Y = sl.load_xc(write(tmp_path, VALID.replace("\n", "\r\n").rstrip("\r\n")))
    assert X.shape == (3, 6) and X.nnz == 5 and Y.nnz == 3


def test_gzip_input(tmp_path):
    p = tmp_path / "data.txt.gz"
    p.write_bytes(gzip.compress(VALID.encode()))
    X, _ = sl.load_xc(p)
    assert X.nnz == 5


@pytest.mark.parametrize("text, line, phrase", [
    ("3 6 4\n0,2 0:1.5 3:abc\n 1:0.25\n3 5:1\n", 2, "value"),                 # bad number
    ("3 6 4\n0,2 0:1.5 3:2\n 1:0.25\n3 9:1\n", 4, "out of range"),           # feature id out of range
    ("3 6 4\n0,7 0:1.5 3:2\n 1:0.25\n3 5:1\n", 2, "label id 7 out of range"),  # label id out of range
    ("4 6 4\n0,2 0:1.5 3:2\n 1:0.25\n3 5:1\n", 5, "header says 4"),           # header count too large
    ("2 6 4\n0,2 0:1.5 3:2\n 1:0.25\n3 5:1\n", 4, "more points"),             # header count too small
    ("3 6 4\n0,2 0:1.5 3:\n 1:0.25\n3 5:1\n", 2, ""),                         # truncated value
    ("3 6 4\n0, 0:1.5 3:2\n 1:0.25\n3 5:1\n", 2, ""),                         # dangling comma
    ("3 6\n0,2 0:1.5 3:2\n 1:0.25\n3 5:1\n", 1, "header"),                    # bad header
    ("3 6 4\n0,2 0:1.5 3:2\n\n3 5:1\n", 3, "empty line"),                     # blank line inside
    ("3 6 4\n0,2 0:1.5 3 2\n 1:0.25\n3 5:1\n", 2, ":"),                       # missing colon
])
def test_malformed_files_name_file_line_and_problem(tmp_path, text, line, phrase):
    p = write(tmp_path, text)
    with pytest.raises(sl.FormatError) as err:
        sl.load_xc(p)
    msg = str(err.value)
    assert f"{p}:{line}:" in msg, msg
    assert phrase in msg, msg
    assert isinstance(err.value, ValueError)


def test_missing_file_is_an_oserror(tmp_path):
    with pytest.raises(sl.SlideIOError) as err:
        sl.load_xc(tmp_path / "nope.txt")
    assert isinstance(err.value, OSError)


def test_arrays_are_views_of_reader_memory(tmp_path):
    X, Y = sl.load_xc(write(tmp_path, VALID))
    assert X.indices.base is not None and X.data.base is not None  # borrowed, not copied
    del Y
    import gc

    gc.collect()
    assert X.sum() == pytest.approx(1.5 + 2 + 0.25 + 3 + 0.1, rel=1e-6)


def assert_valid(X, Y):
    assert X.shape == (3, 6) and Y.shape == (3, 4)
    np.testing.assert_array_equal(X.indptr, [0, 2, 3, 5])
    np.testing.assert_array_equal(X.indices, [0, 3, 1, 5, 2])
    np.testing.assert_array_equal(X.data, np.float32([1.5, 2, 0.25, 0.1, 3]))
    np.testing.assert_array_equal(Y.indptr, [0, 2, 2, 3])
    np.testing.assert_array_equal(Y.indices, [0, 2, 3])


@pytest.mark.parametrize("variant", [
    "crlf", "no final newline", "crlf without final newline", "blank lines at the end", "trailing whitespace",
    "tabs", "blanks around the header", "gzip",
])
def test_edge_cases_load_the_same_data(tmp_path, variant):
    text, name = VALID, "data.txt"
    if variant == "crlf":
        text = text.replace("\n", "\r\n")
    elif variant == "no final newline":
        text = text.rstrip("\n")
    elif variant == "crlf without final newline":
        text = text.replace("\n", "\r\n").rstrip("\r\n")
    elif variant == "blank lines at the end":
        text += "\n\r\n \t\n"
    elif variant == "trailing whitespace":
        text = text.replace("\n", " \t\n")
    elif variant == "tabs":
        text = text.replace(" 0:", "\t0:").replace(" 3:", "\t\t3:").replace("\n ", "\n\t")
    elif variant == "blanks around the header":
        text = "  " + text.replace("\n", "\t \n", 1)
    elif variant == "gzip":
        text, name = gzip.compress(text.encode()), "data.txt.gz"
    assert_valid(*sl.load_xc(write(tmp_path, text, name)))


def test_header_only_and_blank_point_lines(tmp_path):
    X, Y = sl.load_xc(write(tmp_path, "0 5 7\n"))
    assert X.shape == (0, 5) and Y.shape == (0, 7)
    X, Y = sl.load_xc(write(tmp_path, "0 5 7"))
    assert X.shape == (0, 5) and Y.shape == (0, 7)
    # A line of blanks among the points is a point with no labels and no features (not an empty line).
    X, Y = sl.load_xc(write(tmp_path, "2 5 7\n \n1 2:1\n"))
    np.testing.assert_array_equal(X.indptr, [0, 0, 1])
    np.testing.assert_array_equal(Y.indptr, [0, 0, 1])


@pytest.mark.parametrize("text, line, phrase", [
    ("", 1, "missing header (empty file)"),
    ("3 6 4\n", 2, "file ends after 0 points, header says 3"),
    ("3 6 4\r\n0 1:1\r\n\r\n", 3, "file ends after 1 points, header says 3"),
    ("1 6 4\n0 1:1\n1 2:1\n\n", 3, "more points than the header says (1)"),
    ("2 6 4\n0 1:1\n\n\n1 2:1\n", 3, "empty line"),
    ("2 6 4\n0 1:1\n\r\n1 2:1\n", 3, "empty line"),
])
def test_structure_errors(tmp_path, text, line, phrase):
    p = write(tmp_path, text)
    with pytest.raises(sl.FormatError) as err:
        sl.load_xc(p)
    assert str(err.value) == f"{p}:{line}: {phrase}"


def test_truncated_gzip_fails(tmp_path):
    data = gzip.compress(("300 6 4\n" + "0,2 0:1.5 3:2\n" * 300).encode())
    with pytest.raises(sl.FormatError, match="corrupt gzip data"):
        sl.load_xc(write(tmp_path, data[: len(data) // 2], "cut.txt.gz"))


def test_line_across_read_chunks(tmp_path):
    n = 120_000
    rng = np.random.default_rng(0)
    ids = rng.permutation(n)
    line = "1,0 " + " ".join(f"{i}:{i % 7}.5" for i in ids)
    assert len(line) > 4 * 2**18
    X, Y = sl.load_xc(write(tmp_path, f"2 {n} 3\n{line}\n2 5:1\n"))
    np.testing.assert_array_equal(X.indices[:n], ids)
    np.testing.assert_array_equal(X.data[:n], (ids % 7).astype(np.float32) + np.float32(0.5))
    np.testing.assert_array_equal(Y.indices, [1, 0, 2])
