# Test harness: OpenStack's sushy (Debian python3-sushy) driving a Redfish BMC, as Ironic does. One JSON request on
# stdin: {"url", "username", "password", "auth": "session"|"basic"|"auto", "ops": [...]}; one JSON answer on stdout:
# {"results": [...]} or {"error": "...", "results": [...]}. The password never reaches argv.
import json
import sys

import sushy
import urllib3
from sushy import auth as sushy_auth

urllib3.disable_warnings()


def main():
    req = json.load(sys.stdin)
    kind = req.get("auth", "auto")
    auth = {"session": sushy_auth.SessionAuth, "basic": sushy_auth.BasicAuth}.get(kind, sushy_auth.SessionOrBasicAuth)(
        username=req["username"], password=req["password"])
    root = sushy.Sushy(req["url"] + "/redfish/v1", verify=False, auth=auth)
    results = []
    try:
        for op in req["ops"]:
            results.append(run(root, op))
    except Exception as e:  # the test reads the error, whatever sushy raised
        print(json.dumps({"error": f"{type(e).__name__}: {e}", "results": results}))
        return
    finally:
        try:
            root._conn.close()
            auth.close()
        except Exception:
            pass
    print(json.dumps({"results": results}))


def run(root, op):
    name = op["op"]
    system = root.get_system()
    if name == "state":
        return {"power": system.power_state.value if system.power_state else None,
                "boot": {"enabled": enum_value(system.boot.enabled), "target": enum_value(system.boot.target),
                         "mode": enum_value(system.boot.mode)},
                "allowed_resets": sorted(v.value for v in system.get_allowed_reset_system_values())}
    if name == "reset":
        system.reset_system(sushy.ResetType(op["value"]))
        return {"ok": True}
    if name == "boot":
        system.set_system_boot_options(
            target=sushy.BootSource(op["target"]) if "target" in op else None,
            enabled=sushy.BootSourceOverrideEnabled(op["enabled"]) if "enabled" in op else None,
            mode=sushy.BootSourceOverrideMode(op["mode"]) if "mode" in op else None)
        return {"ok": True}
    if name in ("insert", "eject", "media"):
        manager = root.get_manager()
        vm = manager.virtual_media.get_members()[0]
        if name == "insert":
            vm.insert_media(op["image"], inserted=True, write_protected=True)
        elif name == "eject":
            vm.eject_media()
        vm.refresh()
        return {"image": vm.image, "image_name": vm.image_name, "inserted": vm.inserted,
                "media_types": [enum_value(t) for t in vm.media_types]}
    if name == "session":
        return {"session_uri": getattr(root._conn._auth, "_session_resource_id", None)}
    raise ValueError(f"unknown op {name}")


def enum_value(v):
    return v.value if hasattr(v, "value") else v


main()
