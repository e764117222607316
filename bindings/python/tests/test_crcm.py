"""The Python client against the real library: the story's main steps, and
the status of each kind of bad input. Run from the repository root after
`cargo build -p crcm-ffi`:

    python3 -m unittest discover -s bindings/python/tests -v
"""

import ctypes
import json
import sys
import tempfile
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import crcm  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
CONFIG = json.loads((ROOT / "examples" / "story" / "config.json").read_text())
MARIA = {"user": "maria", "role": "manager"}
ANNA = {"user": "anna", "role": "sales_person"}
BEN = {"user": "ben", "role": "sales_person"}


class EngineTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.engine = crcm.Engine(f"sled:{self.dir.name}/store")
        answer = self.engine.request({"actor": MARIA, "type": "set_config", "config": CONFIG})
        self.assertEqual(answer["output"], {"type": "config", "version": 1})

    def tearDown(self):
        self.engine.close()
        self.dir.cleanup()

    def lead(self, actor, first, **fields):
        lead = {"account_type": "business", "first_name": first, "company": f"{first} Inc", **fields}
        return self.engine.request({"actor": actor, "type": "create_lead", "lead": lead})["output"]["lead"]

    def events(self):
        return self.engine.events_since(MARIA, 0, 1000)

    def refused(self, request):
        before = self.events()
        with self.assertRaises(crcm.CrcmError) as caught:
            self.engine.request(request)
        self.assertEqual(self.events(), before, "a refusal changed nothing")
        return caught.exception

    def test_the_story_runs_through_the_c_abi(self):
        ada = self.lead(ANNA, "Ada", email="ada@acme.example")
        self.assertEqual((ada["number"], ada["status"], ada["phase"]["code"]), (1, "new", "CALL"))
        moved = self.engine.request({"actor": ANNA, "type": "move_lead_phase", "lead": ada["id"],
                                     "phase": {"account_type": "business", "code": "QUOTE"}})
        self.assertEqual(moved["output"]["lead"]["phase"]["code"], "QUOTE")
        qualified = self.engine.request({"actor": ANNA, "type": "qualify_lead", "lead": ada["id"],
                                         "customer": {"type": "create"}, "deal": {}})["output"]
        self.assertEqual(qualified["lead"]["status"], "qualified")
        won = self.engine.request({"actor": ANNA, "type": "win_deal", "deal": qualified["deal"]["id"]})["output"]
        self.assertEqual((won["deal"]["status"], won["lead"]["status"]), ("won", "converted"))
        board = self.engine.request({"actor": MARIA, "type": "board", "query": {"account_type": "business"}})
        self.assertEqual([c["count"] for c in board["board"]["columns"]], [0, 0])
        kinds = [e["event"]["type"] for e in self.events()]
        self.assertEqual(kinds[:3], ["config_changed", "lead_created", "phase_changed"])
        self.assertIn("lead_converted", kinds)

    def test_core_refusals_carry_code_name_and_details(self):
        bad = self.refused({"actor": BEN, "type": "create_lead",
                            "lead": {"account_type": "business", "first_name": "P", "email": "p@@x"}})
        self.assertEqual((bad.status, bad.name), (1001, "invalid_email"))
        self.assertEqual(bad.details["value"], "p@@x")
        self.assertEqual(bad.envelope["error"]["code"], 1001)
        ada = self.lead(ANNA, "Ada")
        denied = self.refused({"actor": BEN, "type": "move_lead_phase", "lead": ada["id"],
                               "phase": {"account_type": "business", "code": "QUOTE"}})
        self.assertEqual((denied.status, denied.name), (2001, "permission_denied"))
        self.assertEqual(denied.details["user"], "ben")
        for text, status, name in [
            ("not json", 1018, "malformed_request"),
            ('{"actor": {"user": "maria", "role": "manager"}, "type": "fly"}', 1018, "malformed_request"),
            ('{"wire": 9, "actor": {"user": "maria", "role": "manager"}, "type": "get_config"}', 1020,
             "unsupported_wire_version"),
        ]:
            error = self.refused(text)
            self.assertEqual((error.status, error.name), (status, name), text)

    def test_abi_statuses_for_null_utf8_and_handles(self):
        lib = crcm.load_library()
        out, err = ctypes.c_void_p(), ctypes.c_void_p()
        status = lib.crcm_request(self.engine.handle, None, 0, ctypes.byref(out), None, ctypes.byref(err))
        self.assertEqual(status, crcm.NULL_ARGUMENT)
        self.assertEqual(lib.crcm_error_details_json(err), b'{"argument":"request_json"}')
        lib.crcm_error_free(err)
        with self.assertRaises(crcm.CrcmError) as caught:
            self.engine.request_text(b'{"actor": {"user": "ma\xffria", "role": "manager"}, "type": "get_config"}')
        self.assertEqual((caught.exception.status, caught.exception.name), (crcm.INVALID_UTF8, "invalid_utf8"))
        self.assertEqual(lib.crcm_request(ctypes.c_void_p(0x1234), b"{}", 2, ctypes.byref(out), None, None),
                         crcm.INVALID_HANDLE)
        other = crcm.Engine(f"sled:{self.dir.name}/other")
        handle = other.handle
        other.close()
        with self.assertRaises(crcm.CrcmError) as caught:
            other.request({"actor": MARIA, "type": "get_config"})
        self.assertEqual((caught.exception.status, caught.exception.name), (crcm.INVALID_HANDLE, "invalid_handle"))
        self.assertEqual(lib.crcm_request(handle, b"{}", 2, ctypes.byref(out), None, None), crcm.INVALID_HANDLE)
        self.assertEqual(lib.crcm_engine_close(handle), crcm.INVALID_HANDLE)
        with self.assertRaises(crcm.CrcmError) as caught:
            crcm.Engine("redis://nowhere")
        self.assertEqual(caught.exception.name, "invalid_options")

    def test_an_import_reports_progress_and_can_be_stopped(self):
        path = Path(self.dir.name) / "leads.csv"
        rows = ["contact_name,phone,source"] + [f"Person {i},+1 212 555 {1000 + i},web_form" for i in range(30)]
        path.write_text("\n".join(rows) + "\n")
        options = {"mode": "skip_invalid", "batch_size": 10, "id": "01a23b60-0000-7000-8000-0000000000aa"}
        seen = []
        with self.assertRaises(crcm.CrcmError) as caught:
            self.engine.import_csv(MARIA, path, options, progress=lambda p: seen.append(p.imported) or p.imported >= 10)
        self.assertEqual((caught.exception.status, caught.exception.name), (7015, "import_cancelled"))
        self.assertEqual((seen, caught.exception.details["imported"]), ([10], 10))
        report = self.engine.import_csv(MARIA, path, {**options, "resume": True})
        self.assertEqual((report["skipped"], report["imported"], report["rejected"]), (10, 20, 0))

    def test_one_engine_serves_threads(self):
        errors = []

        def work(n):
            try:
                for i in range(10):
                    self.lead(MARIA, f"T{n}x{i}")
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        page = self.engine.request({"actor": MARIA, "type": "list_leads",
                                    "query": {"page": {"limit": 0, "total": True}}})
        self.assertEqual(page["page"]["total"], 80)


if __name__ == "__main__":
    unittest.main()
