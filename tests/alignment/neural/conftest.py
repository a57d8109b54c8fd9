"""A session-wide local mirror of small Brain-Score files (see ``synthetic.make_mirror``)."""

import pytest

from alignjax.alignment.neural import brainio
from tests.alignment.neural.synthetic import make_mirror


@pytest.fixture(scope="session")
def mirror(tmp_path_factory):
    return make_mirror(tmp_path_factory.mktemp("brainscore_mirror"))


@pytest.fixture
def registered_mirror(mirror, monkeypatch, tmp_path):
    """The mirror's files registered in place of Brain-Score's (whose digests they cannot match)."""
    monkeypatch.setattr(brainio, "STIMULUS_SETS", {**brainio.STIMULUS_SETS, **mirror.stimulus_sets})
    monkeypatch.setattr(brainio, "ASSEMBLIES", {**brainio.ASSEMBLIES, **mirror.assemblies})
    monkeypatch.setenv("ALIGNJAX_BRAINIO_URL", str(mirror.folder))
    monkeypatch.setenv("ALIGNJAX_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BRAINIO_HOME", str(tmp_path / "no_brainio_home"))
    return mirror
