"""Tests of the MovieLens loader and the offline ML-100K fetcher on tiny excerpts they write.

No real MovieLens file is read: every source directory is written here in the
GroupLens ML-100K / ML-1M or RecBole atomic format from one synthetic rating log.
"""
import csv
import os
import re
import zipfile

import numpy as np
import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from pipelines.data import fetch_movielens, movielens
from pipelines.data.movielens import ColumnRoles, MovieLensConfig
from pipelines.data.movielens_formats import read_tables
from trainer_module.data.features import DatasetConfig

N_USERS, N_ITEMS, PER_USER = 30, 40, 20
GENRES = ("Action", "Comedy", "Drama", "Children's")


def _log(seed=0):
    """(user, item, rating, timestamp) rows: PER_USER distinct items per user, with ties."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, N_USERS + 1):
        items = rng.choice(np.arange(1, N_ITEMS + 1), size=PER_USER, replace=False)
        times = 880000000 + np.sort(rng.integers(0, 50, size=PER_USER)) * 1000
        rows += [(u, int(i), int(rng.integers(1, 6)), int(t)) for i, t in zip(items, times)]
    return rows


def _item_genres(i):
    return [g for k, g in enumerate(GENRES) if (i >> k) & 1] or ["Drama"]


def _write(path, lines, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def write_ml100k(d, rows=None):
    genres = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
              "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
              "Romance", "Sci-Fi", "Thriller", "War", "Western"]
    _write(d / "u.data", ["\t".join(map(str, r)) for r in rows or _log()])
    _write(d / "u.user", [f"{u}|{20 + u}|{'MF'[u % 2]}|student|{10000 + u}"
                          for u in range(1, N_USERS + 1)])
    items = []
    for i in range(1, N_ITEMS + 1):
        flags = ["1" if g in _item_genres(i) else "0" for g in genres]
        date = "" if i == 7 else f"01-Jan-{1960 + i}"
        items.append(f"{i}|Café\x85 {i} ({1960 + i})|{date}||http://x|" + "|".join(flags))
    _write(d / "u.item", items, encoding="latin-1")
    return d


def write_ml1m(d):
    _write(d / "ratings.dat", ["::".join(map(str, r)) for r in _log()])
    _write(d / "users.dat", [f"{u}::{'MF'[u % 2]}::{[1, 18, 25][u % 3]}::{u % 21}::{20000 + u}"
                             for u in range(1, N_USERS + 1)])
    _write(d / "movies.dat", [f"{i}::Film {i} ({1960 + i})::{'|'.join(_item_genres(i))}"
                              for i in range(1, N_ITEMS + 1)], encoding="latin-1")
    return d


def write_recbole(d, genre_col="class", age_type="float", stem="mini"):
    _write(d / f"{stem}.inter", ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
           + ["\t".join(map(str, r)) for r in _log()])
    age = (lambda u: f"{20.0 + u}") if age_type == "float" else (lambda u: str(20 + u))
    _write(d / f"{stem}.user",
           [f"user_id:token\tage:{age_type}\tgender:token\toccupation:token\tzip_code:token"]
           + [f"{u}\t{age(u)}\t{'MF'[u % 2]}\twriter\t{30000 + u}" for u in range(1, N_USERS + 1)])
    _write(d / f"{stem}.item",
           [f"item_id:token\tmovie_title:token_seq\trelease_year:token\t{genre_col}:token_seq"]
           + [f"{i}\tFilm {i}\t{1960 + i}\t{' '.join(_item_genres(i))}"
              for i in range(1, N_ITEMS + 1)])
    return d


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


# ------------------------------------------------------------------ formats
def test_grouplens_100k_parsing(tmp_path):
    tables = read_tables(str(write_ml100k(tmp_path)))
    assert tables.format == "grouplens-100k"
    items = tables.items.frame.set_index("item_id")
    assert items.loc["3", "genres"] == ["Action", "Comedy"]
    assert items.loc["3", "release_year"] == "1963" and items.loc["7", "release_year"] == ""
    assert items.loc["3", "movie_title"] == "Café\x85 3 (1963)"  # latin-1, 0x85 is no newline
    splits, dataset = movielens.load_movielens(str(tmp_path))
    assert dataset.names == ["user_id", "item_id", "gender", "age", "occupation", "zip_code",
                             "genres", "release_year"]
    assert dataset.feature("genres").multivalent and dataset.feature("genres").max_len == 4
    row = splits["train"].iloc[0]
    assert row["user_id"].startswith("u") and row["age"].startswith("age")
    years = set().union(*(set(s["release_year"]) for s in splits.values()))
    assert "__missing__" in years and "y1963" in years


def test_grouplens_1m_parsing(tmp_path):
    tables = read_tables(str(write_ml1m(tmp_path)))
    assert tables.format == "grouplens-1m"
    items = tables.items.frame.set_index("item_id")
    assert items.loc["9", "genres"] == ["Action", "Children's"]
    assert items.loc["9", "release_year"] == "1969"
    users = tables.users.frame.set_index("user_id")
    assert users.loc["2", "age"] == "25" and users.loc["2", "gender"] == "M"
    _, dataset = movielens.load_movielens(str(tmp_path), "grouplens-1m")
    assert "occupation" in dataset.names


@pytest.mark.parametrize("genre_col", ["genre", "genres", "class"])
@pytest.mark.parametrize("age_type", ["float", "token"])
def test_recbole_columns_detected(tmp_path, genre_col, age_type):
    write_recbole(tmp_path, genre_col, age_type)
    splits, dataset = movielens.load_movielens(str(tmp_path), "auto")
    assert dataset.feature("genres").multivalent
    ages = set().union(*(set(s["age"]) for s in splits.values()))
    assert "age21" in ages and not any(a.endswith(".0") for a in ages)
    assert all(isinstance(g, list) and g for g in splits["train"]["genres"])


def test_explicit_roles_and_extra_features(tmp_path):
    write_recbole(tmp_path, genre_col="tags")  # not an auto-detected name
    _, auto = movielens.load_movielens(str(tmp_path))
    assert "genres" not in auto.names
    cfg = MovieLensConfig(roles=ColumnRoles(genres="tags"), extra_features=("movie_title",),
                          features=("user_id", "item_id", "genres", "movie_title"))
    _, dataset = movielens.load_movielens(str(tmp_path), config=cfg)
    assert dataset.names == ["user_id", "item_id", "genres", "movie_title"]
    assert dataset.feature("movie_title").multivalent  # token_seq in the header


# ------------------------------------------------------------------ outputs
@pytest.mark.parametrize("task", ["ranking", "retrieval"])
def test_schema_lists_every_csv_column(tmp_path, task):
    out = tmp_path / "out"
    dataset = movielens.prepare_movielens(str(write_ml100k(tmp_path)), str(out),
                                          config=MovieLensConfig(task=task))
    schema = text_format.Parse((out / "schema" / "schema.pbtxt").read_text(), schema_pb2.Schema())
    types = {f.name: f.type for f in schema.feature}
    for split in movielens.SPLITS:
        rows = _csv(out / split / "data.csv")
        assert rows[0] == dataset.names + [dataset.label] and set(rows[0]) == set(types)
        for row in rows[1:]:  # non-empty, never numeric-looking (CsvExampleGen infers types)
            for name, cell in zip(rows[0], row):
                assert cell
                if types[name] == schema_pb2.BYTES:
                    with pytest.raises(ValueError):
                        float(cell)
    assert types[dataset.label] == (schema_pb2.INT if task == "ranking" else schema_pb2.BYTES)
    assert DatasetConfig.from_json((out / "dataset_config.json").read_text()) == dataset


def test_random_split_sizes_and_labels(tmp_path):
    splits, _ = movielens.load_movielens(str(write_ml100k(tmp_path)),
                                         config=MovieLensConfig(seed=3))
    total = N_USERS * PER_USER
    sizes = {k: len(v) for k, v in splits.items()}
    assert sizes == {"train": round(0.7 * total), "eval": round(0.2 * total),
                     "test": total - round(0.7 * total) - round(0.2 * total)}
    assert set(splits["train"]["liked"]) == {0, 1}


def test_ranking_time_split_is_chronological(tmp_path):
    splits, _ = movielens.load_movielens(str(write_ml100k(tmp_path)),
                                         config=MovieLensConfig(split="time"))
    assert splits["train"]["_time"].max() <= splits["eval"]["_time"].min()
    assert splits["eval"]["_time"].max() <= splits["test"]["_time"].min()


@pytest.mark.parametrize("k", [3, 10])
def test_retrieval_time_split_has_no_leakage(tmp_path, k):
    write_recbole(tmp_path)
    splits, dataset = movielens.load_movielens(
        str(tmp_path), config=MovieLensConfig(task="retrieval", history_len=k))
    assert dataset.feature("history").max_len == k and "item_id" not in dataset.names
    assert sum(len(s) for s in splits.values()) == N_USERS * (PER_USER - 1)
    for s in splits.values():
        for hist, label in zip(s["history"], s["next_item"]):
            assert label not in hist and 1 <= len(hist) <= k
    times = {name: s.groupby("_user")["_time"] for name, s in splits.items()}
    users = set(splits["train"]["_user"])
    assert users == set(splits["eval"]["_user"]) == set(splits["test"]["_user"])
    for u in users:
        assert times["train"].max()[u] <= times["eval"].min()[u]
        assert times["eval"].max()[u] <= times["test"].min()[u]


def test_retrieval_history_is_previous_items_without_the_label(tmp_path):
    order = [1, 2, 3, 1, 4, 5, 6, 7, 8]  # item 1 rated twice; rows written out of time order
    rows = [(1, i, 5, 100 + k) for k, i in enumerate(order)][::-1]
    write_ml100k(tmp_path, rows)
    splits, _ = movielens.load_movielens(
        str(tmp_path), config=MovieLensConfig(task="retrieval", history_len=3))
    got = [(h, y) for name in movielens.SPLITS
           for h, y in zip(splits[name]["history"], splits[name]["next_item"])]
    assert got[:5] == [(["i1"], "i2"), (["i1", "i2"], "i3"), (["i2", "i3"], "i1"),
                       (["i2", "i3", "i1"], "i4"), (["i3", "i1", "i4"], "i5")]
    assert [y for _, y in got[-2:]] == ["i7", "i8"] and list(splits["test"]["next_item"]) == ["i8"]


def test_single_file_mode_and_cli(tmp_path, capsys):
    out = tmp_path / "out"
    movielens.main(["--source", str(write_ml1m(tmp_path)), "--format", "grouplens-1m",
                    "--out", str(out), "--single-file"])
    assert '"data": %d' % (N_USERS * PER_USER) in capsys.readouterr().out
    assert movielens.split_patterns(True) == {"data": "data/*"}
    assert not (out / "train").exists()


# ------------------------------------------------------------------ errors
def _bad_header(d):
    write_recbole(d)
    _write(d / "mini.user", ["user_id:token\tage\tgender:token", "1\t20\tM"])


def _bad_rating(d):
    write_recbole(d)
    _write(d / "mini.inter", ["user_id:token\titem_id:token\tscore:token", "1\t2\tgood"])


def _bad_date(d):
    write_ml100k(d)
    with open(d / "u.item", "a", encoding="latin-1") as f:
        f.write("99|X|1999-01-01||u|" + "|".join(["0"] * 19) + "\n")


@pytest.mark.parametrize("setup, kwargs, expected", [
    (lambda d: (d / "u.data").write_text("1\t2\t3\t4\n"), dict(), "u.user"),
    (lambda d: write_ml100k(d) and (d / "u.user").write_text("1|2|M\n"), dict(),
     "u.user, line 1"),
    (_bad_date, dict(), "'release_date'"),
    (_bad_header, dict(), "mini.user, header column 'age'"),
    (_bad_rating, dict(), "column 'score': expected a number, got 'good'"),
    (lambda d: write_recbole(d), dict(roles=ColumnRoles(rating="stars")), "'stars'"),
    (lambda d: _write(d / "x.inter", ["user_id:token\titem_id:token\trating:float", "1\t2\t3"]),
     dict(task="retrieval"), "x.inter: no timestamp column"),
    (lambda d: write_recbole(d), dict(task="retrieval", split="random"), "per user"),
    (lambda d: None, dict(), "cannot detect"),
    (lambda d: write_ml100k(d) and _write(d / "u.user", ["1|20|M|x|1", "1|21|F|y|2"]), dict(),
     "u.user, column 'user_id': duplicate key '1'"),
    (lambda d: _write(d / "e.inter", ["user_id:token\titem_id:token\trating:float",
                                      "1\t2\t3", " \t2\t3"]), dict(),
     "e.inter, data row 2, column 'user_id': expected a value"),
])
def test_bad_input_errors_name_the_problem(tmp_path, setup, kwargs, expected):
    setup(tmp_path)
    with pytest.raises(ValueError, match=re.escape(expected)):
        movielens.load_movielens(str(tmp_path), config=MovieLensConfig(**kwargs))


# ------------------------------------------------------------------ fetcher
def _fake_wheel(dest, version="1.2.1"):
    path = os.path.join(dest, f"recbole-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w") as zf:
        for name in fetch_movielens.REQUIRED_FILES + ("ml-100k.kg",):
            zf.writestr(fetch_movielens.WHEEL_PREFIX + name, "x:token\n1\n")
        zf.writestr("recbole/__init__.py", "")
    return path


def test_fetch_is_idempotent_and_extracts_the_dataset(tmp_path, monkeypatch):
    calls = []

    def fake_run(cmd, **_):
        calls.append(cmd)
        _fake_wheel(cmd[cmd.index("-d") + 1])
        return type("Result", (), {"returncode": 0, "stderr": ""})()

    monkeypatch.setattr(fetch_movielens.subprocess, "run", fake_run)
    target = fetch_movielens.fetch_ml100k(str(tmp_path))
    assert sorted(os.listdir(target)) == ["ml-100k.inter", "ml-100k.item", "ml-100k.kg",
                                          "ml-100k.user"]
    assert calls[0][1:5] == ["-m", "pip", "download", "--no-deps"]
    assert "recbole==1.2.1" in calls[0]
    assert fetch_movielens.fetch_ml100k(str(tmp_path)) == target and len(calls) == 1
    fetch_movielens.fetch_ml100k(str(tmp_path), force=True)
    assert len(calls) == 2


def test_fetch_reports_pip_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_movielens.subprocess, "run", lambda cmd, **_: type(
        "Result", (), {"returncode": 1, "stderr": "no network"})())
    with pytest.raises(RuntimeError, match="no network"):
        fetch_movielens.fetch_ml100k(str(tmp_path))
    assert not os.path.exists(tmp_path / "ml-100k")
