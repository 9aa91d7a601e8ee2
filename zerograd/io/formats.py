"""Recognize files that are not safetensors, to say what they are instead of "corrupted".

Only magic bytes and (for zip archives) the member names are looked at: nothing is
unpickled or decompressed, so naming a foreign file is as safe as refusing it.
"""
import io
import zipfile

__all__ = ["describe_foreign_file"]

_CONVERT = ("convert it once in PyTorch: `from safetensors.torch import save_file; "
            "save_file(torch.load(PATH, weights_only=True), 'model.safetensors')` "
            "(for a state dict of tensors), then load that file")


def _zip_members(data):
    try:
        return zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return []


def _safetensors(data):
    """True when ``data`` opens as safetensors does: a little-endian header length that
    fits the data, then the JSON header's "{" (a header of 640-1535 bytes, say 0x0280,
    starts with the bytes of a pickle's protocol opcode)."""
    size = int.from_bytes(bytes(data[:8]), "little")
    return len(data) >= 9 and 8 + size <= len(data) and bytes(data[8:9]) == b"{"


def describe_foreign_file(data, where):
    """One sentence naming the format of ``data`` and what to do, or None if unknown."""
    head = bytes(data[:8])
    never = "zerograd never unpickles files, since unpickling can run arbitrary code"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        members = _zip_members(data)
        if any(m.endswith("data.pkl") for m in members):
            return (f"{where} is a PyTorch checkpoint (torch.save's zip-of-pickle format); "
                    f"{never}; {_CONVERT.replace('PATH', repr(str(where)))}")
        if members and all(m.endswith(".npy") for m in members):
            return (f"{where} is a NumPy .npz archive, not a checkpoint; read it with "
                    "numpy.load(path, allow_pickle=False) and pass the arrays to "
                    "zerograd.tensor")
        return f"{where} is a zip archive, not a safetensors checkpoint"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5 and not _safetensors(data):
        return (f"{where} is a Python pickle (PyTorch's legacy torch.save format, or "
                f"pickle.dump); {never}; {_CONVERT.replace('PATH', repr(str(where)))}")
    if head.startswith(b"\x93NUMPY"):
        return (f"{where} is a NumPy .npy array, not a checkpoint; read it with "
                "numpy.load(path, allow_pickle=False) and pass it to zerograd.tensor")
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return f"{where} is an HDF5 file (Keras/h5py), not a safetensors checkpoint"
    if head.startswith(b"\x1f\x8b"):
        return f"{where} is gzip-compressed; decompress it first (gunzip)"
    return None
