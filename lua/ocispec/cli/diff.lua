--- `ocispec diff`: two images compared (ocispec.diff): files, config and
-- history, as a report or JSON; exit 0 when identical, 1 when they differ.
-- @module ocispec.cli.diff
local oci = require "ocispec"
local base = require "ocispec.cli.base"
local command, parse_args, fail, parse_platform = base.command, base.parse_args, base.fail, base.parse_platform

local function show(v)
  if v == nil then return "(none)" end
  if type(v) == "table" then return oci.json.encode(v) end
  return tostring(v)
end

-- "(mode 0644 -> 0755, owner 0:0 -> 1000:1000)"
local function details(c)
  local a, b, parts = c.a, c.b, {}
  for _, w in ipairs(c.what) do
    if w == "mode" then
      parts[#parts + 1] = ("mode %04o -> %04o"):format(a.mode, b.mode)
    elseif w == "owner" then
      parts[#parts + 1] = ("owner %d:%d -> %d:%d"):format(a.uid, a.gid, b.uid, b.gid)
    elseif w == "type" then
      parts[#parts + 1] = ("type %s -> %s"):format(a.type, b.type)
    elseif w == "target" then
      parts[#parts + 1] = ("target %s -> %s"):format(a.target or "(none)", b.target or "(none)")
    elseif w == "content" then
      parts[#parts + 1] = ("content %d -> %d bytes"):format(a.size, b.size)
    elseif w == "device" then
      parts[#parts + 1] = ("device %d,%d -> %d,%d"):format(a.major or 0, a.minor or 0, b.major or 0, b.minor or 0)
    else -- xattrs: the names that differ
      local names = {}
      local xa, xb = a.xattrs or {}, b.xattrs or {}
      for k, v in pairs(xa) do if xb[k] ~= v then names[#names + 1] = k end end
      for k in pairs(xb) do if xa[k] == nil then names[#names + 1] = k end end
      table.sort(names)
      parts[#parts + 1] = "xattrs " .. table.concat(names, " ")
    end
  end
  return table.concat(parts, ", ")
end

-- xattr values that are not UTF-8 text (security.capability, ...) as
-- {hex = "..."} for --json
local function hex_xattrs(f)
  if not (f and f.xattrs) then return end
  for k, v in pairs(f.xattrs) do
    if not utf8.len(v) or v:find("%z") then
      f.xattrs[k] = { hex = (v:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) }
    end
  end
end

local function json_safe(d)
  for _, k in ipairs({ "added", "removed" }) do
    for _, f in ipairs(d.files[k]) do hex_xattrs(f) end
  end
  for _, c in ipairs(d.files.changed) do
    hex_xattrs(c.a)
    hex_xattrs(c.b)
  end
  return d
end

local function report(d, out)
  local lines = {}
  for _, f in ipairs(d.files.added) do lines[#lines + 1] = { f.path, "A " .. f.path } end
  for _, f in ipairs(d.files.removed) do lines[#lines + 1] = { f.path, "D " .. f.path } end
  for _, c in ipairs(d.files.changed) do
    lines[#lines + 1] = { c.path, ("C %s (%s)"):format(c.path, details(c)) }
  end
  table.sort(lines, function(x, y) return x[1] < y[1] end)
  for _, l in ipairs(lines) do out:write(l[2], "\n") end
  for _, c in ipairs(d.config) do
    out:write(("config %s: %s -> %s\n"):format(c.field:gsub("^config%.", ""), show(c.a), show(c.b)))
  end
  for _, h in ipairs(d.history) do
    out:write(("history %d: %s -> %s\n"):format(h.index, show(h.a), show(h.b)))
  end
end

command("diff", "compare two images: files, config and history",
  [==[usage: ocispec diff [--json] [--platform OS/ARCH[/VARIANT]] [--plain-http]
                    [--tls-verify=BOOL] [--ca-file FILE] [--auth-file FILE] A B

Compares the images A and B, each a reference with a transport (as
`ocispec copy` takes them: oci:DIR[:NAME], oci-archive:FILE[:NAME],
docker-archive:FILE[:NAME:TAG], docker://HOST/REPO[:TAG|@DIGEST]; a bare
one is a registry). Nothing is unpacked: each image's layers are streamed,
whiteouts applied, file contents hashed; layers both share at the bottom are
read once. One line per path, sorted:
  A PATH                       only in B (added)
  D PATH                       only in A (deleted)
  C PATH (mode 0644 -> 0755)   in both, changed: type, content, target,
                               mode, owner, xattrs or device
then "config FIELD: A -> B" (FIELD as the configuration's JSON names it:
architecture, os, created, Env, Cmd, Labels, ...) for each configuration field and "history N:
A -> B" for each history entry that differs. mtimes are not compared.
--json prints oci.diff's table: {files={added, removed, changed}, config,
history, layers, identical}; an xattr value that is not UTF-8 text is
{"hex": "..."}. Exit 0 when the images are identical, 1 when
they differ (as diff(1)), 2 on error. For docker:// references:
--plain-http (a registry without TLS), --tls-verify=false, --ca-file FILE,
--auth-file FILE (default: the files podman and skopeo read).
]==],
  function(args, out)
    local spec = { ["--json"] = "flag", ["--platform"] = "value" }
    for k, v in pairs(base.READ_CONNECTION_OPTS) do spec[k] = v end
    local opts, pos = parse_args(args, spec)
    if #pos ~= 2 then fail(2, "expected A and B") end
    local o = base.read_connection(opts)
    o.platform = parse_platform(opts.platform)
    local d, msg = oci.diff(pos[1], pos[2], o)
    if not d then fail(2, msg) end
    if opts.json then
      local text, jmsg = oci.json.encode(json_safe(d))
      if not text then
        fail(2, "--json: " .. jmsg .. " (a file name or link target that is not UTF-8: see the report)")
      end
      out:write(text, "\n")
    else
      report(d, out)
    end
    return d.identical and 0 or 1
  end)
