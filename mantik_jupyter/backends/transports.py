"""How the ``slurm`` backend reaches its cluster: this machine's shell and files (``local``)
or a login node over SSH (``ssh``, paramiko: one connection per site, reused).

Both answer the same few calls: run a shell command line, read a file from a byte offset,
write and upload files (atomically: a partial file never has the final name), download
(streamed), list a folder. A dropped connection raises :class:`Lost`, which callers retry
(the next call connects again); a refused host key or login raises a MantikError at once.
Host keys are checked against known_hosts: an unknown or changed key is refused, with its
fingerprint, never added silently.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shlex
import shutil
import stat
import subprocess
import threading
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import BackendError, ConfigError, CredentialsError
from ..jobenv import inherited
from ..spec import plain_text

#: How long one command may take (sbatch on a busy controller is slow, never this slow).
COMMAND_TIMEOUT = 120.0
CONNECT_TIMEOUT = 30.0
KEEPALIVE = 30  # seconds between keep-alive messages: NAT and firewalls keep the connection
CHUNK = 1 << 20


class Lost(Exception):
    """The connection dropped or timed out; the operation may be retried (after reconnect)."""


@dataclass(frozen=True)
class Result:
    """What a command printed and how it ended."""

    code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Entry:
    """A file or folder on the cluster."""

    name: str
    is_dir: bool
    size: int
    modified: str | None


def command(*args: str) -> str:
    """A shell command line from words, each quoted; control characters are refused (a
    newline would end the command and start another)."""
    return " ".join(shlex.quote(plain_text(arg, "command argument")) for arg in args)


def _iso(mtime: float | None) -> str | None:
    return datetime.fromtimestamp(mtime, timezone.utc).isoformat() if mtime else None


def _temp_name(path: str) -> str:
    """A unique name beside ``path`` for a write that is renamed into place."""
    target = PurePosixPath(path)
    return str(target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part"))


class Transport(ABC):
    """Commands and files on the cluster's login node."""

    #: where the commands run, in words (messages)
    where: str

    @abstractmethod
    def run(self, line: str, timeout: float = COMMAND_TIMEOUT) -> Result:
        """Run a shell command line (built with :func:`command`) in the user's login shell
        environment; its exit code and output."""

    @abstractmethod
    def read(self, path: str, offset: int, limit: int | None = None) -> bytes:
        """Bytes of a file from ``offset`` (at most ``limit``); FileNotFoundError if none."""

    @abstractmethod
    def write(self, path: str, data: bytes) -> None:
        """Write a small file, owner-only, atomically."""

    @abstractmethod
    def put(self, local: Path, path: str) -> None:
        """Upload a local file, owner-only, atomically."""

    @abstractmethod
    def get(self, path: str, local: Path) -> None:
        """Download a file (streamed); no partial ``local`` on failure."""

    @abstractmethod
    def listdir(self, path: str) -> list[Entry]:
        """A folder's entries (symbolic links left out); FileNotFoundError if none."""

    @abstractmethod
    def stat(self, path: str) -> Entry:
        """One entry; FileNotFoundError if none."""

    def close(self) -> None:  # noqa: B027 - only a connection has something to drop
        """Drop the connection, if any."""


class LocalTransport(Transport):
    """The Slurm commands and file system of the machine Jupyter runs on (a login node)."""

    where = "this machine"

    def run(self, line: str, timeout: float = COMMAND_TIMEOUT) -> Result:
        # jobs inherit sbatch's environment: the allowlist, never the server's or hub's tokens
        env = inherited(os.environ)
        try:
            proc = subprocess.run(["/bin/sh", "-c", line], capture_output=True, env=env,
                                  stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Lost(f"the command did not end within {timeout:.0f} s") from None
        return Result(proc.returncode, proc.stdout.decode(errors="replace"),
                      proc.stderr.decode(errors="replace"))

    def read(self, path: str, offset: int, limit: int | None = None) -> bytes:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(-1 if limit is None else limit)

    def write(self, path: str, data: bytes) -> None:
        temp = _temp_name(path)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def put(self, local: Path, path: str) -> None:
        temp = _temp_name(path)
        try:
            shutil.copyfile(local, temp)
            os.chmod(temp, 0o600)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def get(self, path: str, local: Path) -> None:
        try:
            shutil.copyfile(path, local)
        except BaseException:
            local.unlink(missing_ok=True)
            raise

    def listdir(self, path: str) -> list[Entry]:
        with os.scandir(path) as entries:
            return [self._entry(e.name, e.stat(follow_symlinks=False)) for e in entries
                    if not e.is_symlink()]

    def stat(self, path: str) -> Entry:
        return self._entry(PurePosixPath(path).name, os.stat(path, follow_symlinks=False))

    @staticmethod
    def _entry(name: str, info: os.stat_result) -> Entry:
        is_dir = stat.S_ISDIR(info.st_mode)
        return Entry(name, is_dir, 0 if is_dir else info.st_size, _iso(info.st_mtime))


@dataclass(frozen=True)
class Endpoint:
    """Where to log in: the profile's settings over ``~/.ssh/config``'s for the host."""

    alias: str
    hostname: str
    port: int
    user: str | None
    key_files: tuple[str, ...]
    known_hosts: str
    proxy_jump: str | None

    @classmethod
    def resolve(cls, host: str, settings: dict[str, Any], config_file: Path) -> Endpoint:
        """The endpoint of ``host`` (an alias of the SSH config or a host name)."""
        import paramiko

        found: dict[str, Any] = {}
        if config_file.is_file():
            found = paramiko.SSHConfig.from_path(str(config_file)).lookup(host)
        key = settings.get("key_file")
        keys = list(dict.fromkeys(([key] if key else []) + found.get("identityfile", [])))
        known = (settings.get("known_hosts")
                 or (found.get("userknownhostsfile") or "").split(" ")[0]
                 or "~/.ssh/known_hosts")
        jump = settings.get("proxy_jump", found.get("proxyjump"))
        return cls(host, found.get("hostname", host),
                   int(settings.get("port") or found.get("port") or 22),
                   settings.get("user") or found.get("user"),
                   tuple(str(Path(k).expanduser()) for k in keys),
                   str(Path(known).expanduser()),
                   None if not jump or jump.lower() == "none" else jump)

    @classmethod
    def jump(cls, hop: str, shared: dict[str, Any], config_file: Path) -> Endpoint:
        """A ProxyJump hop (``[user@]host[:port]`` or an alias), with the profile's key
        file and known_hosts (``shared``) under what the SSH config says for it."""
        user, _, rest = hop.strip().rpartition("@")
        host, _, port = rest.partition(":")
        return cls.resolve(host, {**shared, "user": user or None, "port": port or None},
                           config_file)

    def __str__(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.hostname}:{self.port}"


def fingerprint(key: Any) -> str:
    """A host key's fingerprint as OpenSSH prints it (``SHA256:...``)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class SshTransport(Transport):
    """A login node over SSH: one connection, reused by every call and re-made when lost."""

    def __init__(self, site: str, settings: dict[str, Any],
                 config_file: Path | None = None):
        self.site = site
        self.settings = settings
        self.config_file = config_file or Path("~/.ssh/config").expanduser()
        self.endpoint = Endpoint.resolve(settings["host"], settings, self.config_file)
        self.where = f"{self.endpoint} over SSH"
        self._lock = threading.RLock()  # _lost() may run under it
        self._clients: list[Any] = []  # the hops, the login node last
        self._sftp: Any = None
        self._sftp_lock = threading.Lock()

    # ------------------------------------------------------------------ connection
    def client(self) -> Any:
        """The connected client of the login node (connecting, through any jump hosts)."""
        with self._lock:
            if self._clients and self._clients[-1].get_transport() is not None \
                    and self._clients[-1].get_transport().is_active():
                return self._clients[-1]
            self._drop()
            shared = {k: self.settings[k] for k in ("known_hosts", "key_file")
                      if self.settings.get(k)}
            chain = [Endpoint.jump(hop, shared, self.config_file)
                     for hop in (self.endpoint.proxy_jump or "").split(",") if hop.strip()]
            chain.append(self.endpoint)
            sock = None
            try:
                for hop, nxt in zip(chain, [*chain[1:], None], strict=True):
                    client = self._connect(hop, sock)
                    self._clients.append(client)
                    if nxt is not None:  # the next hop is reached through this one
                        sock = client.get_transport().open_channel(
                            "direct-tcpip", (nxt.hostname, nxt.port), ("127.0.0.1", 0))
            except BaseException:
                self._drop()
                raise
            return self._clients[-1]

    def _connect(self, hop: Endpoint, sock: Any) -> Any:
        import paramiko

        client = paramiko.SSHClient()
        if os.path.isfile(hop.known_hosts):
            client.load_host_keys(hop.known_hosts)
        client.set_missing_host_key_policy(_RefuseUnknown(self.site, hop))
        try:
            client.connect(hop.hostname, hop.port, username=hop.user,
                           key_filename=list(hop.key_files) or None, allow_agent=True,
                           look_for_keys=not hop.key_files, sock=sock,
                           timeout=CONNECT_TIMEOUT, banner_timeout=CONNECT_TIMEOUT,
                           auth_timeout=CONNECT_TIMEOUT)
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise CredentialsError(
                f"site {self.site!r}: the host key of {hop} has CHANGED: it offered "
                f"{fingerprint(exc.key)}, {hop.known_hosts} has {fingerprint(exc.expected_key)}"
                "; refusing to connect (if the cluster really changed its key, replace "
                "the line in known_hosts)", key="known_hosts") from None
        except paramiko.PasswordRequiredException:
            client.close()
            raise CredentialsError(
                f"site {self.site!r}: the key {', '.join(hop.key_files)} needs a passphrase; "
                "add it to your ssh-agent (ssh-add) and try again", key="key_file") from None
        except paramiko.AuthenticationException as exc:
            client.close()
            keys = ", ".join(hop.key_files) or "the default keys"
            raise CredentialsError(
                f"site {self.site!r}: {hop} refused the login ({exc}); tried {keys} and the "
                "ssh-agent's keys", key="key_file") from None
        except HostKeyRefused:
            client.close()
            raise
        except (OSError, EOFError, paramiko.SSHException) as exc:
            client.close()
            raise Lost(f"cannot connect to {hop}: {exc or type(exc).__name__}") from None
        client.get_transport().set_keepalive(KEEPALIVE)
        return client

    def _drop(self) -> None:
        self._sftp = None
        for client in reversed(self._clients):
            client.close()
        self._clients = []

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _lost(self, exc: BaseException) -> Lost:
        """Forget the connection (the next call makes a new one); the error to raise."""
        self.close()
        return Lost(f"the connection to {self.endpoint} dropped ({exc or type(exc).__name__})")

    def sftp(self) -> Any:
        """The SFTP session of the connection (opened once per connection)."""
        import paramiko

        client = self.client()
        with self._lock:
            if self._sftp is None or self._sftp.get_channel().get_transport() \
                    is not client.get_transport():
                try:
                    self._sftp = client.open_sftp()
                except (OSError, EOFError, paramiko.SSHException) as exc:
                    raise self._lost(exc) from None
            return self._sftp

    # ------------------------------------------------------------------ commands
    def run(self, line: str, timeout: float = COMMAND_TIMEOUT) -> Result:
        import paramiko

        client = self.client()
        try:
            channel = client.get_transport().open_session()
            channel.settimeout(timeout)
            channel.exec_command(line)
            channel.shutdown_write()
            stdout = channel.makefile("rb").read()
            stderr = channel.makefile_stderr("rb").read()
            code = channel.recv_exit_status()
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._lost(exc) from None
        if code == -1:  # the channel closed without an exit status: the connection went
            raise self._lost(EOFError("no exit status"))
        return Result(code, stdout.decode(errors="replace"), stderr.decode(errors="replace"))

    # ------------------------------------------------------------------ files
    def _sftp_call(self, fn: Any) -> Any:
        import paramiko

        sftp = self.sftp()
        try:
            with self._sftp_lock:
                return fn(sftp)
        except (FileNotFoundError, PermissionError):
            raise
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._lost(exc) from None

    def read(self, path: str, offset: int, limit: int | None = None) -> bytes:
        def read(sftp: Any) -> bytes:
            with sftp.open(path, "rb") as fh:
                fh.seek(offset)
                if limit is not None:
                    return fh.read(limit)
                parts = []
                while chunk := fh.read(CHUNK):
                    parts.append(chunk)
                return b"".join(parts)
        return self._sftp_call(read)

    def write(self, path: str, data: bytes) -> None:
        def write(sftp: Any) -> None:
            temp = _temp_name(path)
            with sftp.open(temp, "wb") as fh:
                fh.chmod(0o600)
                fh.write(data)
            sftp.posix_rename(temp, path)
        self._sftp_call(write)

    def put(self, local: Path, path: str) -> None:
        def put(sftp: Any) -> None:
            temp = _temp_name(path)
            try:
                with open(local, "rb") as source, sftp.open(temp, "wb") as fh:
                    fh.chmod(0o600)
                    fh.set_pipelined(True)
                    while chunk := source.read(CHUNK):
                        fh.write(chunk)
                sftp.posix_rename(temp, path)
            except BaseException:
                # on a lost connection the temp file stays: its name is never taken for a blob
                with contextlib.suppress(OSError, EOFError):
                    sftp.remove(temp)
                raise
        self._sftp_call(put)

    def get(self, path: str, local: Path) -> None:
        def get(sftp: Any) -> None:
            try:
                sftp.get(path, str(local))
            except BaseException:
                local.unlink(missing_ok=True)
                raise
        self._sftp_call(get)

    def listdir(self, path: str) -> list[Entry]:
        return [self._entry(a) for a in self._sftp_call(lambda s: s.listdir_attr(path))
                if not stat.S_ISLNK(a.st_mode or 0)]

    def stat(self, path: str) -> Entry:
        attr = self._sftp_call(lambda s: s.lstat(path))
        attr.filename = PurePosixPath(path).name
        return self._entry(attr)

    @staticmethod
    def _entry(attr: Any) -> Entry:
        is_dir = stat.S_ISDIR(attr.st_mode or 0)
        return Entry(attr.filename, is_dir, 0 if is_dir else int(attr.st_size or 0),
                     _iso(attr.st_mtime))


class HostKeyRefused(CredentialsError):
    """The server's host key is not in known_hosts."""


class _RefuseUnknown:
    """paramiko's policy for a host missing from known_hosts: refuse, naming the key."""

    def __init__(self, site: str, hop: Endpoint):
        self.site = site
        self.hop = hop

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        raise HostKeyRefused(
            f"site {self.site!r}: the host key of {self.hop} is unknown ({key.get_name()} "
            f"{fingerprint(key)}, not in {self.hop.known_hosts}); refusing to connect. Check "
            "the fingerprint with the cluster's documentation, then add the host with "
            f"ssh-keyscan -p {self.hop.port} {self.hop.hostname} >> {self.hop.known_hosts} "
            "(or log in once with ssh)", key="known_hosts")


def transport(site: str, settings: dict[str, Any]) -> Transport:
    """The transport a ``slurm`` profile names (``local`` unless ``ssh``)."""
    kind = settings.get("transport", "local")
    if kind == "local":
        return LocalTransport()
    if kind == "ssh":
        if not settings.get("host"):
            raise ConfigError(f"site {site!r}: transport ssh needs a host (a name or an "
                              "alias of ~/.ssh/config)", key="host")
        return SshTransport(site, settings)
    raise BackendError(f"site {site!r}: unknown transport {kind!r}; use local or ssh")
