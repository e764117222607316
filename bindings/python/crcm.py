"""crcm from Python: the C ABI through the standard library's ctypes.

    import crcm
    with crcm.Engine("sled:./crcm-data") as engine:
        answer = engine.request({"actor": {"user": "ann", "role": "manager"},
                                 "type": "get_lead_by_number", "number": 1})

`Engine.request` sends one request of the request API (a dict, or JSON text)
and returns the response (the envelope's "ok" part) as a dict; a refusal
raises `CrcmError` with the status, name, message and typed details. The
library is found through $CRCM_LIBRARY, then next to this checkout's
`target/{release,debug}`, then the system's library path.
"""

import ctypes
import ctypes.util
import json
import os
from pathlib import Path

__all__ = ["CrcmError", "Engine", "ImportProgress", "load_library", "version", "wire_version",
           "OK", "NULL_ARGUMENT", "INVALID_UTF8", "INVALID_HANDLE", "PANIC"]

#: Success.
OK = 0
#: The C ABI's own statuses (9001-9099); every other status is crcm's error code.
NULL_ARGUMENT = 9001
INVALID_UTF8 = 9002
INVALID_HANDLE = 9003
PANIC = 9004

#: `ImportProgress.stage` values.
IMPORT_CHECKING = 1
IMPORT_IMPORTING = 2


class ImportProgress(ctypes.Structure):
    """Where an import stands (`crcm_import_progress`)."""

    _fields_ = [
        ("stage", ctypes.c_uint32),
        ("rows", ctypes.c_uint64),
        ("bytes", ctypes.c_uint64),
        ("imported", ctypes.c_uint64),
        ("rejected", ctypes.c_uint64),
        ("duplicates", ctypes.c_uint64),
    ]


PROGRESS_CB = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.POINTER(ImportProgress), ctypes.c_void_p)


class CrcmError(Exception):
    """A refused or failed call: `status` (the number of crcm.h's table),
    `name` (`"version_conflict"`), `message`, `details` (the typed details,
    parsed) and `envelope` (the whole error as the wire form)."""

    def __init__(self, status, name, message, details, envelope):
        super().__init__(f"{name} ({status}): {message}")
        self.status = status
        self.name = name
        self.message = message
        self.details = details
        self.envelope = envelope


def _candidates():
    if os.environ.get("CRCM_LIBRARY"):
        yield os.environ["CRCM_LIBRARY"]
    root = Path(__file__).resolve().parents[2]
    for profile in ("release", "debug"):
        for name in ("libcrcm_ffi.so", "libcrcm_ffi.dylib", "crcm_ffi.dll"):
            path = root / "target" / profile / name
            if path.exists():
                yield str(path)
    found = ctypes.util.find_library("crcm_ffi")
    if found:
        yield found


_lib = None


def load_library(path=None):
    """Loads the crcm library (once) and declares its functions."""
    global _lib
    if _lib is not None and path is None:
        return _lib
    paths = [path] if path else list(_candidates())
    if not paths:
        raise OSError("libcrcm_ffi not found: build it (cargo build -p crcm-ffi) or set CRCM_LIBRARY")
    lib = ctypes.CDLL(paths[0])
    c_char_pp = ctypes.POINTER(ctypes.c_char_p)
    err_pp = ctypes.POINTER(ctypes.c_void_p)
    size_p = ctypes.POINTER(ctypes.c_size_t)
    out_text = ctypes.POINTER(ctypes.c_void_p)
    lib.crcm_version.restype = ctypes.c_char_p
    lib.crcm_version.argtypes = []
    lib.crcm_wire_version.restype = ctypes.c_uint32
    lib.crcm_wire_version.argtypes = []
    lib.crcm_string_free.restype = None
    lib.crcm_string_free.argtypes = [ctypes.c_void_p]
    lib.crcm_engine_open.restype = ctypes.c_uint32
    lib.crcm_engine_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p), err_pp]
    lib.crcm_engine_close.restype = ctypes.c_uint32
    lib.crcm_engine_close.argtypes = [ctypes.c_void_p]
    lib.crcm_request.restype = ctypes.c_uint32
    lib.crcm_request.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, out_text, size_p, err_pp]
    lib.crcm_events_since.restype = ctypes.c_uint32
    lib.crcm_events_since.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint64, ctypes.c_uint32,
                                      out_text, size_p, err_pp]
    lib.crcm_import_csv.restype = ctypes.c_uint32
    lib.crcm_import_csv.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                    PROGRESS_CB, ctypes.c_void_p, out_text, size_p, err_pp]
    for name in ("crcm_error_name", "crcm_error_message", "crcm_error_details_json", "crcm_error_json"):
        getattr(lib, name).restype = ctypes.c_char_p
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    lib.crcm_error_code.restype = ctypes.c_uint32
    lib.crcm_error_code.argtypes = [ctypes.c_void_p]
    lib.crcm_error_free.restype = None
    lib.crcm_error_free.argtypes = [ctypes.c_void_p]
    del c_char_pp
    if path is None:
        _lib = lib
    return lib


def version():
    """The library's version, e.g. "0.1.0"."""
    return load_library().crcm_version().decode()


def wire_version():
    """The wire version the library speaks."""
    return load_library().crcm_wire_version()


def _raise(lib, status, err):
    """Turns a failed call's error object into a CrcmError (and frees it)."""
    if not err:
        raise CrcmError(status, "unknown", "the call failed without an error object", None, None)
    try:
        name = lib.crcm_error_name(err).decode()
        message = lib.crcm_error_message(err).decode()
        details = json.loads(lib.crcm_error_details_json(err).decode())
        envelope = json.loads(lib.crcm_error_json(err).decode())
        code = lib.crcm_error_code(err)
    finally:
        lib.crcm_error_free(err)
    raise CrcmError(code, name, message, details, envelope)


def _take_text(lib, pointer, length):
    """Copies a text crcm handed out, then frees crcm's copy."""
    try:
        return ctypes.string_at(pointer, length.value).decode()
    finally:
        lib.crcm_string_free(pointer)


def _text(value):
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        value = json.dumps(value)
    return value.encode()


class Engine:
    """An open crcm engine over the store `spec` names (`sled:DIR`,
    `sqlite:FILE`, `postgres://...`, `mysql://...`). Safe to share between
    threads; close it (or use `with`) when done."""

    def __init__(self, spec, options=None, library=None):
        self._lib = load_library(library)
        handle = ctypes.c_void_p()
        err = ctypes.c_void_p()
        status = self._lib.crcm_engine_open(_text(spec), _text(options), ctypes.byref(handle), ctypes.byref(err))
        if status != OK:
            _raise(self._lib, status, err)
        self._handle = handle
        self._closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Closes the engine; later calls raise `invalid_handle`."""
        if not self._closed:
            self._closed = True
            self._lib.crcm_engine_close(self._handle)

    @property
    def handle(self):
        """The raw handle (for calling the C functions directly)."""
        return self._handle

    def request_text(self, request):
        """Sends a request (dict, str or bytes) and returns the answer's
        JSON text, the envelope `{"wire": 1, "ok": ...}`."""
        data = _text(request)
        out = ctypes.c_void_p()
        length = ctypes.c_size_t()
        err = ctypes.c_void_p()
        status = self._lib.crcm_request(self._handle, data, len(data), ctypes.byref(out), ctypes.byref(length),
                                        ctypes.byref(err))
        if status != OK:
            _raise(self._lib, status, err)
        return _take_text(self._lib, out, length)

    def request(self, request):
        """Sends a request and returns its response (the envelope's "ok")."""
        return json.loads(self.request_text(request))["ok"]

    def events_since(self, actor, cursor=0, limit=100):
        """The events after `cursor`, at most `limit`."""
        out = ctypes.c_void_p()
        length = ctypes.c_size_t()
        err = ctypes.c_void_p()
        status = self._lib.crcm_events_since(self._handle, _text(actor), cursor, limit, ctypes.byref(out),
                                             ctypes.byref(length), ctypes.byref(err))
        if status != OK:
            _raise(self._lib, status, err)
        return json.loads(_take_text(self._lib, out, length))["ok"]["events"]

    def import_csv(self, actor, path, options=None, progress=None):
        """Imports leads from the CSV file at `path`. `progress(p)` is called
        after each batch with an `ImportProgress`; a true return stops the
        import (`import_cancelled`). Returns the import's report."""

        def on_progress(p, _user_data):
            try:
                # A copy: the struct crcm passes lives for this call only.
                return 1 if progress and progress(ImportProgress.from_buffer_copy(p.contents)) else 0
            except Exception:  # a failing callback stops the import
                return 1

        callback = PROGRESS_CB(on_progress)
        out = ctypes.c_void_p()
        length = ctypes.c_size_t()
        err = ctypes.c_void_p()
        status = self._lib.crcm_import_csv(self._handle, _text(actor), _text(str(path)), _text(options), callback,
                                           None, ctypes.byref(out), ctypes.byref(length), ctypes.byref(err))
        if status != OK:
            _raise(self._lib, status, err)
        return json.loads(_take_text(self._lib, out, length))["ok"]["report"]
