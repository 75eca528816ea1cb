"""HeyGen's facts as the emulator keeps them: accepted types, limits, how bytes are recognised,
and the emulator's small catalogue.

The emulator is the reference the client is tested against, so it keeps its own copy of these
facts and never borrows the client's code to decide what HeyGen would do. Each fact says where
it comes from: [doc] HeyGen's documentation or official client, [rep] reported by users, [sim]
the emulator's own choice where public sources are silent.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DIRECT_EXPIRES",
    "DIRECT_MAX_BYTES",
    "PHOTO_TYPES",
    "USERNAME",
    "V1_MAX_BYTES",
    "V1_TYPES",
    "V3_FILE_LIMIT",
    "V3_TYPES",
    "kind_of",
    "sniff",
]

MIB: Final = 1024 * 1024
#: [doc] upload.heygen.com/v1/asset: png, jpeg, mpeg, mp4, webm; audio/wav [rep once].
V1_TYPES: Final = ("image/png", "image/jpeg", "audio/mpeg", "video/mp4", "video/webm",
                   "audio/wav")
#: [doc] upload.heygen.com/v1/talking_photo: JPEG or PNG.
PHOTO_TYPES: Final = ("image/jpeg", "image/png")
#: [doc] POST /v3/assets: png, jpeg, mp4, webm, mp3, wav, pdf, detected from the bytes.
V3_TYPES: Final = ("image/png", "image/jpeg", "video/mp4", "video/webm", "audio/mpeg",
                   "audio/wav", "application/pdf")
#: [doc] "32 MB" for POST /v3/assets; the emulator takes the larger (MiB) reading.
V3_FILE_LIMIT: Final = 32 * MIB
#: [sim] no documented v1 limit: the emulator refuses only absurd sizes.
V1_MAX_BYTES: Final = 5 * 1024 * MIB
#: [sim] the per-upload cap a direct upload announces in ``max_bytes``.
DIRECT_MAX_BYTES: Final = 5 * 1024 * MIB
#: [sim] seconds a signed PUT URL stays valid.
DIRECT_EXPIRES: Final = 900
#: [sim] the emulator account's username (``GET /v3/users/me``; ``GET /v3/assets?username=``).
USERNAME: Final = "emulator"

# ISO base media ("ftyp") brands: which MIME type each major brand means. HEIC, AVIF and M4A
# share the container with MP4 and must not pass as video/mp4.
_FTYP_BRANDS: Final = {
    **dict.fromkeys((b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42",
                     b"avc1", b"dash", b"M4V ", b"M4VH", b"M4VP", b"mmp4", b"f4v "), "video/mp4"),
    **dict.fromkeys((b"M4A ", b"M4B ", b"M4P ", b"f4a "), "audio/mp4"),
    **dict.fromkeys((b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"hevc", b"hevx"),
                    "image/heic"),
    **dict.fromkeys((b"avif", b"avis"), "image/avif"),
    b"qt  ": "video/quicktime",
    b"3gp4": "video/3gpp", b"3gp5": "video/3gpp", b"3g2a": "video/3gpp2",
}


def sniff(head: bytes) -> str | None:
    """The MIME type a file's first bytes (at least 16) prove, or None.

    [doc] HeyGen detects the type from the bytes, not from the declared Content-Type.
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"WEBP"):
        return "audio/wav" if head[8:12] == b"WAVE" else "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head else "video/x-matroska"
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "application/octet-stream")
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
                                   and head[1] & 0x06 != 0):
        return "audio/mpeg"
    return None


def kind_of(mime: str) -> str:
    """HeyGen's coarse ``file_type`` / asset ``type``: image, video, audio, else ``file`` [sim]."""
    major = mime.split("/", 1)[0]
    return major if major in {"image", "video", "audio"} else "file"
