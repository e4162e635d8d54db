"""Write ember's seccomp profile: a runtime's default profile with exactly one
change, perf_event_open allowed whatever the capabilities (the defaults of
podman/containers-common and containerd allow it only with CAP_SYS_ADMIN;
CAP_PERFMON is what ember is granted, and the kernel still checks it).

    python3 deploy/seccomp/make-profile.py [DEFAULT.json] > deploy/seccomp/ember.json

DEFAULT defaults to podman's, /usr/share/containers/seccomp.json. Rules that
name perf_event_open lose that name (a rule left with no name is dropped);
then one unconditional SCMP_ACT_ALLOW rule for it is added. Nothing else
changes, so the result is as strict as the default for every other call."""
import json
import sys

src = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/containers/seccomp.json"
with open(src) as f:
    profile = json.load(f)
rules = []
for rule in profile["syscalls"]:
    names = [n for n in rule["names"] if n != "perf_event_open"]
    if names:
        rules.append(dict(rule, names=names))
rules.append({
    "names": ["perf_event_open"],
    "action": "SCMP_ACT_ALLOW",
    "args": [],
    "comment": "ember: CPU sampling; the kernel still requires CAP_PERFMON "
               "(or perf_event_paranoid) for other processes",
    "includes": {},
    "excludes": {},
})
profile["syscalls"] = rules
json.dump(profile, sys.stdout, indent=2)
sys.stdout.write("\n")
