"""v3 assets: the multipart upload, direct uploads (init, signed PUT, complete), get, list,
delete; and the object store and file server behind the URLs the emulator hands out."""

from __future__ import annotations

import hmac
import os
import re
from typing import IO, Any, Final, cast

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.wrappers import Response
from werkzeug.wsgi import wrap_file

from ..facts import DIRECT_EXPIRES, DIRECT_MAX_BYTES, MIB, V3_FILE_LIMIT, V3_TYPES
from ..http import Call, invalid, legacy, v3
from ..payloads import Refusal
from ..state import TINY_MP4, Page, Spool, StoredAsset, TooLarge, sniff_mime, tiny_png

V3_BODY_LIMIT: Final = V3_FILE_LIMIT + MIB  # room for the multipart framing
SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
SPACE_ID: Final = "emu_space"  # [sim]


def asset_item(call: Call, a: StoredAsset) -> dict[str, Any]:
    """An asset as ``GET /v3/assets`` and ``GET /v3/assets/{id}`` show it [doc: spec]."""
    return {"id": a.asset_id, "name": a.name, "type": a.kind, "owner": call.state.username,
            "space_id": SPACE_ID, "uploaded_at": a.created_ts, "folder_id": a.folder_id,
            "url": call.file_url(a.asset_id) if a.status == "ready" else None}


def uploaded(call: Call, a: StoredAsset) -> dict[str, Any]:
    """What an upload answers: ``asset_id``, ``url``, ``mime_type``, ``size_bytes`` [doc]."""
    return {"asset_id": a.asset_id, "url": call.file_url(a.asset_id), "mime_type": a.mime_type,
            "size_bytes": a.size_bytes}


def _checksum(value: Any) -> str | None:
    """An optional ``checksum_sha256``, lower-cased; 400 if malformed."""
    if value is None:
        return None
    if not (isinstance(value, str) and SHA256_HEX.fullmatch(value.lower())):
        raise invalid("v3", "checksum_sha256", "checksum_sha256 must be 64 hex characters")
    return value.lower()


@v3("AssetCreate")
def create(call: Call) -> Any:
    """POST /v3/assets -- multipart with one part named ``file``; MIME from the bytes [doc]."""
    too_large = Refusal("v3.payload_too_large", limit=V3_FILE_LIMIT)
    if call.request.mimetype != "multipart/form-data":
        raise invalid("v3", "file", "send multipart/form-data with one part named 'file'")
    if (call.request.content_length or 0) > V3_BODY_LIMIT:
        raise too_large
    spools: list[Spool] = []

    def factory(total_content_length: int | None, content_type: str | None,
                filename: str | None, content_length: int | None = None) -> IO[bytes]:
        spools.append(Spool(call.state.tmp_dir, V3_FILE_LIMIT))
        return cast(IO[bytes], spools[-1])

    parser = FormDataParser(factory, max_form_memory_size=MIB, max_form_parts=100,
                            max_content_length=V3_BODY_LIMIT, silent=False)
    added: Spool | None = None
    try:
        try:
            _, form, files = parser.parse_from_environ(call.request.environ)
        except (RequestEntityTooLarge, TooLarge):
            raise too_large from None
        except ValueError as exc:
            raise invalid("v3", "file", f"malformed multipart body: {exc}") from None
        parts = files.getlist("file")
        streams = [cast(object, p.stream) for p in parts]
        kept = [s for s in spools if any(st is s for st in streams)]
        if not kept:
            raise invalid("v3", "file", "a file part is required: send exactly one part "
                          "named 'file' with a filename"
                          + " (the 'file' part has no filename)" * ("file" in form))
        if len(kept) > 1:
            raise invalid("v3", "file",
                          f"exactly one part named 'file' is allowed, got {len(kept)}")
        mime = sniff_mime(kept[0].head)
        if not kept[0].size:
            raise invalid("v3", "file", "the file is empty")
        if mime is None:
            raise invalid("v3", "file", f"unsupported file type; allowed: {', '.join(V3_TYPES)}")
        asset = call.state.add_asset(kept[0], mime, parts[0].filename)
        added = kept[0]
    finally:
        for s in spools:
            if s is not added:
                s.discard()
    return uploaded(call, asset)


@v3("AssetList")
def list_(call: Call) -> Page:
    """GET /v3/assets?username=&limit=&token=&folder_id= [doc]; only the owner's assets."""
    owner, folder = call.arg("username"), call.arg("folder_id")
    with call.state.lock:
        items = [a for a in call.state.assets.values()
                 if owner == call.state.username and (folder is None or a.folder_id == folder)]
    return call.page(items, lambda a: asset_item(call, a))


@v3("AssetGet")
def get(call: Call) -> Any:
    """GET /v3/assets/{asset_id} [doc]."""
    return asset_item(call, call.state.asset(call.params["asset_id"]))


@v3("AssetDelete")
def delete(call: Call) -> Any:
    """DELETE /v3/assets/{asset_id} [doc]."""
    return {"id": call.state.delete_asset(call.params["asset_id"]).asset_id}


# ---------------------------------------------------------------------- direct uploads
@v3("AssetDirectUploadsCreate")
def direct_create(call: Call) -> Any:
    """POST /v3/assets/direct-uploads -- a signed PUT URL with the size signed in [doc]."""
    call.gate("direct_upload")
    filename, content_type = call.field("filename"), call.field("content_type")
    size, checksum = call.field("size_bytes"), _checksum(call.field("checksum_sha256"))
    if not 1 <= len(filename) <= 255:
        raise invalid("v3", "filename", "filename must have 1-255 characters")
    if content_type not in V3_TYPES:
        raise invalid("v3", "content_type", f"content_type must be one of {', '.join(V3_TYPES)}")
    if not 1 <= size <= DIRECT_MAX_BYTES:
        raise invalid("v3", "size_bytes", f"size_bytes must be from 1 to {DIRECT_MAX_BYTES}")
    state = call.state
    with state.lock:
        asset_id = state.new_id()
        now = state.now()
        expires = int(now) + DIRECT_EXPIRES
        state.assets[asset_id] = StoredAsset(
            asset_id, filename, content_type, size, int(now), state.next_seq(),
            status="pending_upload", declared_checksum=checksum, expires_at=expires)
    sig = call.service.sign(asset_id, expires, size, content_type)
    return {
        "asset_id": asset_id,
        "upload_url": f"{call.service.api_base}/_storage/{asset_id}?expires={expires}"
                      f"&size={size}&sig={sig}",
        "upload_headers": {"Content-Type": content_type},
        "expires_in_seconds": DIRECT_EXPIRES, "max_bytes": DIRECT_MAX_BYTES,
        "status": "pending_upload"}


@v3("AssetCompleteCreate")
def complete(call: Call) -> Any:
    """POST /v3/assets/{asset_id}/complete -- verify checksum and type; idempotent [doc]."""
    checksum = _checksum(call.field("checksum_sha256"))
    state = call.state
    with state.lock:
        asset = state.asset(call.params["asset_id"])
        if asset.status == "ready":
            return uploaded(call, asset) | {"status": "ready"}
        if asset.path is None:
            raise Refusal("v3.upload_not_found_yet")
        if state.complete_race and not asset.raced:
            asset.raced = True
            raise Refusal("v3.upload_not_found_yet")
        expected = checksum or asset.declared_checksum
        if expected and expected != asset.sha256:
            raise invalid("v3", "checksum_sha256",
                          "checksum_sha256 does not match the uploaded bytes")
        with asset.path.open("rb") as fh:
            actual = sniff_mime(fh.read(Spool.HEAD))
        if actual != asset.mime_type:
            raise invalid("v3", "content_type",
                          f"declared content_type {asset.mime_type} but the uploaded "
                          f"bytes are {actual or 'of an unsupported type'}")
        asset.status = "ready"
    return uploaded(call, asset) | {"status": "ready"}


@legacy("api", "/_storage/<object_id>", ["PUT"], public=True)
def storage_put(call: Call) -> Response:
    """PUT /_storage/{id}?expires=&size=&sig= -- the object store behind upload URLs."""
    request, object_id = call.request, call.params["object_id"]
    for header in ("X-Api-Key", "Authorization"):
        if header in request.headers:
            raise Refusal("storage.unsigned_header", header=header)
    try:
        expires, size = int(request.args["expires"]), int(request.args["size"])
        sig = request.args["sig"]
    except (KeyError, ValueError):
        raise Refusal("storage.signature_mismatch",
                       detail="missing or malformed expires/size/sig") from None
    expected = call.service.sign(object_id, expires, size, request.headers.get("Content-Type", ""))
    if not hmac.compare_digest(sig.encode(), expected.encode()):
        raise Refusal("storage.signature_mismatch",
                       detail="object, size, expiry or Content-Type differ from the signed")
    if call.state.now() > expires:
        raise Refusal("storage.expired")
    gone = Refusal("storage.no_such_upload", detail=f"no pending upload {object_id}")
    with call.state.lock:
        asset = call.state.assets.get(object_id)
    if asset is None or asset.status != "pending_upload":
        raise gone
    if request.content_length is None:
        raise Refusal("storage.missing_length")
    if request.content_length != size:
        raise Refusal("storage.size_mismatch", size=request.content_length, signed=size)
    spool = call.spool(size, Refusal("storage.size_mismatch", size=f"> {size}", signed=size))
    with call.state.lock:
        if call.state.assets.get(object_id) is not asset or asset.status != "pending_upload":
            spool.discard()
            raise gone
        spool.keep(call.state.object_path(object_id))
        asset.path, asset.sha256, asset.size_bytes = spool.path, spool.sha256, spool.size
    return Response(b"", 200, headers={"ETag": f'"{spool.sha256[:32]}"'})


@legacy("api", "/_files/<name>", ["GET"], public=True)
def files_get(call: Call) -> Response:
    """GET /_files/{name} -- asset bytes, talking photos, rendered videos, thumbnails."""
    state, name = call.state, call.params["name"]
    with state.lock:
        asset = state.assets.get(name)
        photo = state.talking_photos.get(name)
        video = state.videos.get(name.rpartition(".")[0])
        rendered = video is not None and state.status(video) == "completed"
    target = (asset.path, asset.mime_type) if asset and asset.status == "ready" else None
    if photo is not None:
        target = (photo.path, photo.mime_type)
    if target is not None and target[0] is not None:
        try:
            fh = target[0].open("rb")
        except FileNotFoundError:  # deleted meanwhile
            raise Refusal("storage.not_found") from None
        size = os.fstat(fh.fileno()).st_size
        return Response(wrap_file(call.request.environ, fh), 200, mimetype=target[1],
                        headers={"Content-Length": str(size)}, direct_passthrough=True)
    if name == "preview.png" or (rendered and name.endswith(".png")):
        return Response(tiny_png(), 200, mimetype="image/png")
    if rendered and name.endswith(".mp4"):
        return Response(TINY_MP4, 200, mimetype="video/mp4")
    raise Refusal("storage.not_found")
