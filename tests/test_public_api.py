import pinnsight as ps


def test_every_public_name_is_documented():
    missing = [n for n in ps.__all__ if not (getattr(ps, n).__doc__ or "").strip()]
    assert not missing, f"undocumented public names: {missing}"
