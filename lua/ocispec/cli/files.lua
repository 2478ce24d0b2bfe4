--- `ocispec fs`: the files of an image of a layout, read without unpacking
-- it (ocispec.reader).
-- @module ocispec.cli.files
local oci = require "ocispec"
local base = require "ocispec.cli.base"
local command, LOCAL_REF_HELP = base.command, base.LOCAL_REF_HELP
local parse_args, fail = base.parse_args, base.fail
local parse_platform = base.parse_platform

local function line(e)
  local s = ("%-8s %04o %d:%d %10d %s"):format(e.type, e.mode, e.uid, e.gid, e.size,
    "/" .. e.path)
  if e.target then s = s .. (e.type == "symlink" and " -> " or " link to /") .. e.target end
  return s
end

command("fs", "read the files of an image without unpacking it (cat, ls, stat)",
  [==[usage: ocispec fs cat [--platform OS/ARCH[/VARIANT]] IMAGE PATH
       ocispec fs ls [--json] [--platform OS/ARCH[/VARIANT]] IMAGE [PATH]
       ocispec fs stat [--json] [--no-follow] [--platform ...] IMAGE PATH

Reads the image's layers newest first, whiteouts applied, and stops at the
first layer below which nothing can change the answer; nothing is written to
disk. cat writes a regular file's content to stdout, ls lists a directory
(default /), stat shows one entry: type, mode, uid:gid, size, path (and a
link's target). Symbolic links resolve inside the image (stat --no-follow:
not the last one). Each layer read is checked against its digest and size.
--json prints the entries as JSON: {path, type, mode, uid, gid, mtime,
size, target, layer}. Exit 1 when the path is missing or of the wrong type.
IMAGE: DIR[:NAME], where ]==] .. LOCAL_REF_HELP .. "\n" .. base.TRANSPORT_REF_HELP .. "\n",
  function(args, out)
    local sub = table.remove(args, 1)
    local spec = { ["--json"] = "flag", ["--platform"] = "value", ["--no-follow"] = "flag" }
    for k, v in pairs(base.READ_CONNECTION_OPTS) do spec[k] = v end
    local opts, pos = parse_args(args, spec)
    if sub ~= "cat" and sub ~= "ls" and sub ~= "stat" then
      fail(2, "expected fs cat, fs ls or fs stat")
    end
    if #pos < 1 or #pos > 2 or (sub ~= "ls" and #pos ~= 2) then
      fail(2, "expected IMAGE and " .. (sub == "ls" and "[PATH]" or "PATH"))
    end
    local platform = parse_platform(opts.platform)
    local res, msg = base.with_read_image(pos[1], base.read_connection(opts), function(L, ref)
      local img, msg = oci.image_reader(L, ref, platform and { platform = platform } or nil)
      if not img then fail(2, msg) end
      local path = pos[2] or "/"
      local res
      if sub == "cat" then
        res, msg = img:read(path)
        if res then out:write(res) end
      elseif sub == "ls" then
        res, msg = img:list(path)
        if res and opts.json then
          out:write(oci.json.encode(setmetatable(res, #res == 0 and oci.empty_array_mt() or nil)), "\n")
        elseif res then
          for _, e in ipairs(res) do out:write(line(e), "\n") end
        end
      else
        if opts.no_follow then res, msg = img:lstat(path) else res, msg = img:stat(path) end
        if res then out:write(opts.json and oci.json.encode(res) or line(res), "\n") end
      end
      img:close()
      return res, msg
    end)
    if not res then fail(1, msg) end
    return 0
  end)
