-- ocispec's side of the differential test: one unpack per input line
-- "LAYOUT<TAB>TAG<TAB>BUNDLE", answered by "ok" or "error<TAB>message" on
-- one line; one process serves many images (no interpreter start-up per
-- image). The same calls as `ocispec unpack --rootless LAYOUT:TAG BUNDLE`.
local oci = require "ocispec"

for line in io.lines() do
  local dir, tag, bundle = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)$")
  local ok, res, msg = pcall(function()
    local L, err = oci.layout.open(dir)
    if not L then return nil, err end
    return oci.unpack.image(L, tag, bundle, { rootless = true })
  end)
  if not ok then
    msg = "raised: " .. tostring(res)
  end
  if ok and res then
    io.write("ok\n")
  else
    io.write("error\t", (tostring(msg):gsub("[\r\n\t]", " ")), "\n")
  end
  io.flush()
end
