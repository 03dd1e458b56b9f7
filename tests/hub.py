"""Loopback stand-ins for the two servers `testimony models fetch` talks to, so that the real
clients (huggingface_hub, argostranslate) run their real code paths with no network.

FakeHub speaks the part of the Hugging Face hub API that ``HfApi.model_info`` and
``snapshot_download`` use: ``GET /api/models/{repo}[/revision/{rev}]`` (the commit and the file
list), ``GET /api/models/{repo}/tree/{rev}`` (paths, sizes, blob ids) and ``HEAD``/``GET
/{repo}/resolve/{rev}/{path}`` (the file, with the ``X-Repo-Commit`` and ``ETag`` headers the
client requires). Unknown repositories and revisions get the hub's own error codes.
ArgosIndex serves an ``index.json`` and the ``.argosmodel`` files it links to.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class _Server:
    def __init__(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet test output
                pass

            def do_HEAD(self):
                owner.answer(self, head=True)

            def do_GET(self):
                owner.answer(self, head=False)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.requests: list[str] = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()

    @staticmethod
    def send(handler, status: int, body: bytes = b"", head: bool = False, **headers) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key.replace("_", "-"), value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if not head:
            handler.wfile.write(body)


class FakeHub(_Server):
    """Repositories of files read from folders, each at one commit (also reachable as ``main``)."""

    def __init__(self):
        super().__init__()
        self.repos: dict[str, dict] = {}

    def add(
        self, repo_id: str, folder: Path, licence: str = "mit", commit: str | None = None
    ) -> str:
        """Serve ``folder`` as ``repo_id`` at ``commit`` (default: a hash of its files)."""
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
        commit = (
            commit
            or hashlib.sha1(
                json.dumps({k: git_blob_id(v) for k, v in files.items()}).encode()
            ).hexdigest()
        )
        self.repos[repo_id] = {"sha": commit, "files": files, "licence": licence}
        return commit

    def answer(self, handler, head: bool) -> None:
        path = unquote(urlparse(handler.path).path)
        self.requests.append(f"{handler.command} {path}")
        if path.startswith("/api/models/"):
            rest = path[len("/api/models/") :]
            for kind in ("/revision/", "/tree/"):
                if kind in rest:
                    repo_id, revision = rest.split(kind, 1)
                    return self._api(handler, kind.strip("/"), repo_id, revision)
            return self._api(handler, "revision", rest, "main")  # the default branch
        elif "/resolve/" in path:
            repo_id, rest = path.lstrip("/").split("/resolve/", 1)
            revision, _, filename = rest.partition("/")
            repo = self._repo(handler, repo_id, revision, head)
            if repo is None:
                return
            data = repo["files"].get(filename)
            if data is None:
                return self.send(
                    handler, 404, b"", head, X_Error_Code="EntryNotFound", X_Repo_Commit=repo["sha"]
                )
            return self.send(
                handler, 200, data, head, X_Repo_Commit=repo["sha"], ETag=f'"{git_blob_id(data)}"'
            )
        self.send(handler, 404, b"not found", head)

    def _repo(self, handler, repo_id: str, revision: str, head: bool = False) -> dict | None:
        repo = self.repos.get(repo_id)
        if repo is None:
            self.send(
                handler,
                404,
                b'{"error": "Repository not found"}',
                head,
                X_Error_Code="RepoNotFound",
            )
        elif revision not in ("main", repo["sha"]):
            self.send(
                handler, 404, b'{"error": "Invalid rev id"}', head, X_Error_Code="RevisionNotFound"
            )
        else:
            return repo
        return None

    def _api(self, handler, kind: str, repo_id: str, revision: str) -> None:
        revision = revision.split("/", 1)[0]
        repo = self._repo(handler, repo_id, revision)
        if repo is None:
            return
        if kind == "revision":
            body = {
                "id": repo_id,
                "modelId": repo_id,
                "sha": repo["sha"],
                "private": False,
                "siblings": [{"rfilename": name} for name in repo["files"]],
                "cardData": {"license": repo["licence"]},
                "tags": [f"license:{repo['licence']}"],
            }
        else:
            body = [
                {"type": "file", "path": name, "size": len(data), "oid": git_blob_id(data)}
                for name, data in repo["files"].items()
            ]
        self.send(handler, 200, json.dumps(body).encode(), Content_Type="application/json")


class ArgosIndex(_Server):
    """An Argos package index: ``index.json`` and the packages it links to."""

    def __init__(self):
        super().__init__()
        self.files: dict[str, bytes] = {}
        self.index: list[dict] = []

    def add(self, archive: Path, from_code: str, to_code: str, version: str = "1.9") -> None:
        self.files[f"/packages/{archive.name}"] = archive.read_bytes()
        self.index.append(
            {
                "package_version": version,
                "argos_version": "1.9",
                "from_code": from_code,
                "from_name": from_code,
                "to_code": to_code,
                "to_name": to_code,
                "type": "translate",
                "links": [f"{self.url}/packages/{archive.name}"],
            }
        )

    def answer(self, handler, head: bool) -> None:
        path = urlparse(handler.path).path
        self.requests.append(f"{handler.command} {path}")
        if path == "/index.json":
            return self.send(handler, 200, json.dumps(self.index).encode(), head)
        data = self.files.get(path)
        self.send(handler, 200 if data is not None else 404, data or b"", head)
