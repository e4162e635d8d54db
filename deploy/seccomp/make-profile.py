"""Write ember's seccomp profile: podman's default profile with exactly one
more call allowed, perf_event_open, in a form every runtime reads alike.

    python3 deploy/seccomp/make-profile.py [DEFAULT.json] > deploy/seccomp/ember.json

DEFAULT defaults to podman's, /usr/share/containers/seccomp.json
(containers-common). Its rules carry conditions (`includes`/`excludes` of
capabilities and architectures) that podman, CRI-O and Docker evaluate but
containerd does not: containerd reads a Localhost profile as a plain OCI
runtime-spec LinuxSeccomp and would ignore the conditions, applying every
rule. So the conditions are evaluated here, once, for the capabilities the
manifests grant (CAPS) on x86 and ARM (ARCHES), and the profile is written
without them:
  - a rule that needs a capability ember is not granted, or an architecture
    other than these, is dropped; a rule that excludes one ember is granted
    is dropped;
  - perf_event_open leaves every rule that names it (the default allows it
    only with CAP_SYS_ADMIN) and gets one unconditional allow rule.
The kernel still checks capabilities: a call allowed here for SYS_PTRACE or
DAC_READ_SEARCH still needs that capability, and perf_event_open still
needs CAP_PERFMON (or kernel.perf_event_paranoid) for other processes."""
import json
import sys

CAPS = {"CAP_PERFMON", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH", "CAP_CHECKPOINT_RESTORE",
        "CAP_SYSLOG", "CAP_IPC_LOCK"}
ARCHES = {"amd64", "x86", "x32", "arm64", "arm"}
FAMILIES = ("SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64")


def applies(rule):
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if set(inc.get("caps") or []) - CAPS:
        return False
    if inc.get("arches") and not set(inc["arches"]) & ARCHES:
        return False
    if set(exc.get("caps") or []) & CAPS:
        return False
    if exc.get("arches") and set(exc["arches"]) & ARCHES:
        return False
    return True


src = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/containers/seccomp.json"
with open(src) as f:
    default = json.load(f)
arches = []
for entry in default["archMap"]:
    if entry["architecture"] in FAMILIES:
        arches += [entry["architecture"], *entry.get("subArchitectures", [])]
rules = []
for rule in default["syscalls"]:
    names = [n for n in rule["names"] if n != "perf_event_open"]
    if names and applies(rule):
        out = {"names": names, "action": rule["action"]}
        if rule.get("args"):
            out["args"] = rule["args"]
        if "errnoRet" in rule:
            out["errnoRet"] = rule["errnoRet"]
        rules.append(out)
rules.append({"names": ["perf_event_open"], "action": "SCMP_ACT_ALLOW"})
profile = {"defaultAction": default["defaultAction"], "architectures": arches,
           "syscalls": rules}
if "defaultErrnoRet" in default:
    profile["defaultErrnoRet"] = default["defaultErrnoRet"]
json.dump(profile, sys.stdout, indent=1)
sys.stdout.write("\n")
