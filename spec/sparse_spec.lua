-- Sparse files through layers (issue 15 §5): a file with holes is stored
-- sparse (PAX GNU sparse 1.0, as libarchive and GNU tar --sparse --posix
-- write it) and unpacked with its holes. Oracles: Python's tarfile (the
-- sparse map and the content), GNU tar, umoci, os.stat's st_blocks.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")

local quote = support.quote

local sh = support.sh

local py = support.py

local MiB = 1024 * 1024

-- "sha256 allocated-bytes" of a file (Python)
local function file_facts(path)
  return py([[
import hashlib, os, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for b in iter(lambda: f.read(1 << 20), b""):
        h.update(b)
print(h.hexdigest(), os.stat(sys.argv[1]).st_blocks * 512)
]], path)
end

describe("sparse files in layers", function()
  local tmp, src, want, sparse_here
  before_each(function()
    tmp = support.tmpdir()
    src = tmp .. "/src"
    assert(os.execute("mkdir " .. quote(src)))
    -- 100 MiB: data at 10 MiB and 50 MiB, a hole to the end; and a dense file
    py([[
import sys
d = sys.argv[1]
with open(d + "/big", "wb") as f:
    f.seek(10 << 20); f.write(b"middle")
    f.seek(50 << 20); f.write(b"X" * 5000)
    f.truncate(100 << 20)
with open(d + "/dense", "wb") as f:
    f.write(b"\0" * 8192 + b"end")
]], src)
    want = file_facts(src .. "/big")
    sparse_here = tonumber(want:match(" (%d+)")) < MiB
  end)
  after_each(function() support.rmdir(tmp) end)

  it("is stored sparse, reproducibly (tarfile reads the map and the content)", function()
    if not sparse_here then
      pending("this file system does not keep holes")
      return
    end
    local blob = tmp .. "/l.tar.gz"
    local r = assert(oci.layer.build { dir = src, output = blob })
    assert.is_true(r.uncompressed_size < 64 * 1024)
    local r2 = assert(oci.layer.build { dir = src, output = tmp .. "/l2.tar.gz" })
    assert.equal(r.digest, r2.digest)
    local out = py([[
import hashlib, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    for m in t:
        print(m.name, m.size, m.sparse, m.pax_headers.get("GNU.sparse.major"),
              hashlib.sha256(t.extractfile(m).read()).hexdigest())
]], blob)
    local big_sha = want:match("^%x+")
    local dense_sha = file_facts(src .. "/dense"):match("^%x+")
    assert.equal(("big %d [(10485760, 4096), (52428800, 8192), (104857600, 0)] 1 %s\n"
      .. "dense 8195 None None %s\n"):format(100 * MiB, big_sha, dense_sha), out)
  end)

  it("unpacks with its holes; GNU tar and umoci read the same bytes", function()
    if not sparse_here then
      pending("this file system does not keep holes")
      return
    end
    local blob = tmp .. "/l.tar"
    assert(oci.layer.build { dir = src, output = blob, compression = "none" })
    local ours = tmp .. "/ours"
    assert(os.execute("mkdir " .. quote(ours)))
    assert(oci.unpack.layer(blob, ours))
    local got = file_facts(ours .. "/big")
    assert.equal(want:match("^%x+"), got:match("^%x+"))
    assert.is_true(tonumber(got:match(" (%d+)")) < MiB, got)
    local gnu = tmp .. "/gnu"
    assert(os.execute("mkdir " .. quote(gnu)))
    local msg, ok = sh(("tar -xf %s -C %s"):format(quote(blob), quote(gnu)))
    assert(ok, msg)
    assert.equal(want:match("^%x+"), file_facts(gnu .. "/big"):match("^%x+"))
    if os.execute("command -v umoci >/dev/null 2>&1") ~= true then
      pending("umoci not installed")
      return
    end
    -- an OCI layout holding the layer, for umoci unpack
    local layout = tmp .. "/layout"
    py([==[
import hashlib, json, os, sys
layer, out = sys.argv[1], sys.argv[2]
os.makedirs(out + "/blobs/sha256")
def blob(b):
    d = hashlib.sha256(b).hexdigest()
    open(out + "/blobs/sha256/" + d, "wb").write(b)
    return {"digest": "sha256:" + d, "size": len(b)}
ld = blob(open(layer, "rb").read())
cd = blob(json.dumps({"architecture": "amd64", "os": "linux", "config": {},
    "rootfs": {"type": "layers", "diff_ids": [ld["digest"]]}}).encode())
md = blob(json.dumps({"schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": dict(cd, mediaType="application/vnd.oci.image.config.v1+json"),
    "layers": [dict(ld, mediaType="application/vnd.oci.image.layer.v1.tar")]}).encode())
json.dump({"schemaVersion": 2, "manifests": [dict(md,
    mediaType="application/vnd.oci.image.manifest.v1+json",
    annotations={"org.opencontainers.image.ref.name": "t"})]}, open(out + "/index.json", "w"))
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
]==], blob, layout)
    msg, ok = sh(("umoci unpack --rootless --image %s:t %s"):format(quote(layout), quote(tmp .. "/umoci")))
    assert(ok, msg)
    assert.equal(want:match("^%x+"), file_facts(tmp .. "/umoci/rootfs/big"):match("^%x+"))
  end)
end)
