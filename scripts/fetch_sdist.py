"""Downloads a package's source distribution from PyPI's simple index and
checks it against the sha256 the index lists.

usage: python3 scripts/fetch_sdist.py NAME VERSION DEST"""

import hashlib
import re
import sys
import urllib.request

name, version, dest = sys.argv[1:4]
index_url = f"https://pypi.org/simple/{name}/"
request = urllib.request.Request(index_url, headers={"Accept": "text/html"})
index = urllib.request.urlopen(request, timeout=120).read().decode()
filename = re.escape(f"{name.replace('-', '_')}-{version}.tar.gz")
match = re.search(r'href="([^"#]+' + filename + r')#sha256=([0-9a-f]+)"', index)
if not match:
    sys.exit(f"{name} {version}: no source distribution in {index_url}")
url, expected = match.groups()
data = urllib.request.urlopen(url, timeout=600).read()
got = hashlib.sha256(data).hexdigest()
if got != expected:
    sys.exit(f"{name} {version}: sha256 {got} does not match the index's {expected}")
with open(dest, "wb") as f:
    f.write(data)
print(f"{dest}: {len(data)} bytes, sha256 {got}", file=sys.stderr)
