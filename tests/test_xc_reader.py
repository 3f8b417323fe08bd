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
