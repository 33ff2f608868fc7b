"""`open_store`: a DataStore from one URL-like configuration string.

  memory:                                   in-memory (tests, demos)
  local:///abs/dir  or a plain path         content-addressed directory (the default)
  s3://bucket[/prefix/]?endpoint=URL&region=R[&access_key_id=..&secret_access_key=..]
                                            S3-compatible object store (credentials otherwise
                                            from boto3's chain: AWS_* variables, profile, role)
  ipfs+http://127.0.0.1:5001[?timeout=S]    Flavum's Helia node (ipfs/server.mjs)

Backends are imported only when asked for, so a node using the directory store does not load
boto3. An unknown scheme, an unknown option or a malformed value raises ConfigError.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from flavum.core.errors import ConfigError
from flavum.da.interface import DataStore


def _options(query: str, allowed: set[str], url: str) -> dict[str, str]:
    try:
        parsed = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise ConfigError(f"malformed options in store URL {url!r}") from exc
    options: dict[str, str] = {}
    for key, values in parsed.items():
        if key not in allowed:
            raise ConfigError(f"unknown option {key!r} in store URL {url!r}; "
                              f"allowed: {', '.join(sorted(allowed))}")
        if len(values) != 1:
            raise ConfigError(f"option {key!r} given twice in store URL {url!r}")
        options[key] = values[0]
    return options


def _float_option(options: dict[str, str], key: str, default: float, url: str) -> float:
    if key not in options:
        return default
    try:
        value = float(options[key])
    except ValueError:
        raise ConfigError(f"option {key!r} must be a number in store URL {url!r}") from None
    if not value > 0:
        raise ConfigError(f"option {key!r} must be positive in store URL {url!r}")
    return value


def open_store(url: str) -> DataStore:
    """The DataStore that `url` describes (see the module docstring)."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("the data store URL is empty")
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()

    if scheme == "":
        from flavum.da.local import LocalStore

        return LocalStore(url)

    if scheme == "memory":
        if url.lower() not in ("memory:", "memory://"):
            raise ConfigError(f"the memory store takes no location or options: {url!r}")
        from flavum.da.memory import MemoryStore

        return MemoryStore()

    if scheme == "local":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ConfigError(f"use local:///absolute/dir (three slashes) or a plain path: {url!r}")
        if parts.query or parts.fragment:
            raise ConfigError(f"the local store takes no options: {url!r}")
        from flavum.da.local import LocalStore

        return LocalStore(unquote(parts.path))

    if scheme == "s3":
        bucket = parts.netloc
        if not bucket:
            raise ConfigError(f"no bucket in store URL {url!r} (s3://bucket?endpoint=...)")
        options = _options(
            parts.query,
            {"endpoint", "region", "access_key_id", "secret_access_key", "session_token"},
            url,
        )
        prefix = unquote(parts.path.lstrip("/"))
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        from flavum.da.s3 import S3Store

        return S3Store(
            bucket,
            endpoint_url=options.get("endpoint") or None,
            region=options.get("region") or None,
            prefix=prefix,
            access_key_id=options.get("access_key_id") or None,
            secret_access_key=options.get("secret_access_key") or None,
            session_token=options.get("session_token") or None,
        )

    if scheme in ("ipfs+http", "ipfs+https"):
        if not parts.netloc:
            raise ConfigError(f"no host in store URL {url!r} (ipfs+http://127.0.0.1:5001)")
        options = _options(parts.query, {"timeout"}, url)
        timeout = _float_option(options, "timeout", 60.0, url)
        from flavum.da.ipfs import IpfsStore

        api = f"{scheme.removeprefix('ipfs+')}://{parts.netloc}{parts.path.rstrip('/')}"
        return IpfsStore(api, timeout=timeout)

    raise ConfigError(
        f"unknown data store scheme {parts.scheme!r} in {url!r}; "
        "use memory:, local:///dir (or a path), s3://bucket?endpoint=..., ipfs+http://host:port"
    )
