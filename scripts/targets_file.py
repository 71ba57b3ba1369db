"""Edits one object of one target in targets/targets.json as text, so that the rest of the hand-formatted file
stays as it is. Shared by scripts/sim-calibrate.py ("instructions") and scripts/qemu-mix.py ("cpi")."""
import json


def replace_target_object(path, name, key, lines):
    """Replaces the object `key` of the target named `name` with one entry per line of `lines` (already indented
    and formatted), keeping the comma (or none) that followed the old object; checks the result parses."""
    text = open(path).read()
    i = text.index(f'"name": "{name}"')
    a = text.index(f'      "{key}": {{', i)
    b = text.index("\n      }", a) + len("\n      }")
    text = text[:a] + f'      "{key}": {{\n' + ",\n".join(lines) + "\n      }" + text[b:]
    json.loads(text)
    open(path, "w").write(text)
