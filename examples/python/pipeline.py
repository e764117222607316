"""The story of the manuals from Python, through crcm's C ABI with ctypes.

    cargo build -p crcm-ffi
    python3 examples/python/pipeline.py [STORE_DIR]

Opens a sled store, loads the story's configuration, works leads as two
sales people and a manager, and prints the board and the event outbox.
"""

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bindings" / "python"))

import crcm  # noqa: E402

ANNA = {"user": "anna", "role": "sales_person"}
BEN = {"user": "ben", "role": "sales_person"}
MARIA = {"user": "maria", "role": "manager"}


def phase(code):
    return {"account_type": "business", "code": code}


def main():
    store = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="crcm-python-")
    print(f"crcm {crcm.version()} (wire {crcm.wire_version()}) from Python; sled store in {store}")
    with crcm.Engine(f"sled:{store}") as engine:
        def run(actor, kind, **fields):
            return engine.request({"actor": actor, "type": kind, **fields})

        def refused(actor, kind, **fields):
            try:
                run(actor, kind, **fields)
                raise SystemExit(f"expected {kind} to be refused")
            except crcm.CrcmError as e:
                print(f"   refused as expected: {e.status} {e.name}: {e.message}")
                return e

        print("\n== 1. Maria loads the configuration")
        config = json.loads((ROOT / "examples" / "story" / "config.json").read_text())
        print(f"   configuration version {run(MARIA, 'set_config', config=config)['output']['version']}")

        print("\n== 2. Leads arrive")
        globex = run(MARIA, "create_customer", customer={"name": "Globex", "phone": "+1 212-555-0147"})
        globex = globex["output"]["customer"]

        def lead(actor, first, last, company, **contact):
            created = run(actor, "create_lead", lead={
                "account_type": "business", "first_name": first, "last_name": last, "company": company,
                "source": "web_form", "expected_revenue": {"currency": "USD", "minor": 1200000}, **contact})
            lead = created["output"]["lead"]
            print(f"   lead {lead['number']:>2}  {first} {last:<10} {company:<12} owner {lead['owner']}")
            return lead

        acme = lead(ANNA, "Ada", "Lovelace", "Acme Corp", email="Ada@Acme.example.com")
        globex_lead = lead(ANNA, "Hank", "Scorpio", "Globex Corp", phone="(212) 555 0147")
        refused(BEN, "create_lead", lead={"account_type": "business", "first_name": "Peter",
                                          "company": "Initech", "email": "peter@@initech"})
        initech = lead(BEN, "Peter", "Gibbons", "Initech", email="peter@initech.example.com")
        umbrella = lead(BEN, "Alice", "Abernathy", "Umbrella")

        print("\n== 3. Work the pipeline")
        run(ANNA, "set_lead_status", lead=acme["id"], status="contacted")
        run(ANNA, "move_lead_phase", lead=acme["id"], phase=phase("QUOTE"))
        run(ANNA, "move_lead_phase", lead=globex_lead["id"], phase=phase("QUOTE"))
        print("   anna moved Acme and Globex to Send Quote")
        refused(BEN, "move_lead_phase", lead=acme["id"], phase=phase("CLOSED"))
        choice = refused(ANNA, "qualify_lead", lead=globex_lead["id"], customer={"type": "auto"}, deal={})
        print(f"   candidates: {choice.details['candidates']}")
        qualified = run(ANNA, "qualify_lead", lead=globex_lead["id"],
                        customer={"type": "link", "customer": globex["id"]}, deal={})["output"]
        won = run(ANNA, "win_deal", deal=qualified["deal"]["id"])["output"]
        print(f"   deal \"{won['deal']['title']}\" won: lead {globex_lead['number']} is {won['lead']['status']}")
        run(ANNA, "qualify_lead", lead=acme["id"], customer={"type": "auto"}, deal={})
        run(BEN, "disqualify_lead", lead=initech["id"], reason="no_budget")
        run(BEN, "move_lead_phase", lead=umbrella["id"], phase=phase("CLOSED"), closing_reason="competitor")
        print("   Acme qualified, Initech disqualified, Umbrella closed (competitor)")

        print("\n== 4a. The board of account type Business")
        board = run(MARIA, "board", query={"account_type": "business"})["board"]
        for column in board["columns"]:
            cards = ", ".join(f"#{c['number']} {c['name']}" for c in column["cards"])
            print(f"   {column['name']:<18} {column['count']:>2}  {cards}")

        print("\n== 4b. The event outbox")
        events = engine.events_since(MARIA, 0, 100)
        for event in events:
            print(f"   #{event['seq']:<3} {event['actor']:<6} {event['event']['type']}")
        print(f"   {len(events)} events")


if __name__ == "__main__":
    main()
