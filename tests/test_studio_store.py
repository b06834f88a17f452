"""The studio's file store: random ids only, nothing outside its folder, safe download names, gone when closed."""

from __future__ import annotations

import pytest

from choreo.studio.store import Store, safe_name


def test_ids_names_and_cleanup(tmp_path):
    store = Store(tmp_path)
    path = store.new_path(".glb")
    path.write_bytes(b"glTF")
    entry = store.add(path, "../../my dance?.glb")
    assert entry.download_name == "my_dance_.glb" and entry.media_type == "model/gltf-binary"
    assert store.get(entry.id) == entry
    for bad in ("", "..", "../" + entry.id, entry.id + "/", path.name, str(path), None, 3):
        assert store.get(bad) is None, bad
    with pytest.raises(ValueError):
        store.add(tmp_path / "elsewhere.glb", "x.glb")
    with pytest.raises(ValueError):
        store.new_path("/../../x")
    path.unlink()
    assert store.get(entry.id) is None  # a deleted file is not served
    folder = store.folder
    store.close()
    assert not folder.exists()


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("song.mp3", "song.mp3"),
        ("C:\\Users\\me\\take 1.bvh", "take_1.bvh"),
        ("...", "file"),
        ("<script>.npz", "script_.npz"),
    ],
)
def test_safe_names(name, safe):
    assert safe_name(name) == safe
