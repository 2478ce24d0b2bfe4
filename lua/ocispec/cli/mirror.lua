--- `ocispec` commands that maintain registries: catalog, delete.
-- @module ocispec.cli.mirror
local oci = require "ocispec"
local base = require "ocispec.cli.base"
require "ocispec.cli.registries" -- base.remote
local fail, command = base.fail, base.command
local remote = base.remote

command("catalog", "list the repositories of a registry",
  [==[usage: ocispec catalog [OPTIONS] HOST

Prints every repository of HOST's catalog (/v2/_catalog), one a line
(--json: a JSON array), following the registry's pages.

  --filter REGEX        only the names REGEX (POSIX extended) matches
]==] .. remote.help,
  function(args, out)
    local opts, pos = remote.opts(args, { ["--filter"] = "value" })
    if #pos ~= 1 then fail(2, "expected one HOST") end
    if not oci.core.check.registry_host(pos[1]) then
      fail(2, ("HOST: %s is not a registry host"):format(remote.printable(pos[1])))
    end
    if opts.filter then
      local ok, why = oci.core.check.regex_find(opts.filter, "")
      if ok == nil then fail(2, "--filter: " .. remote.printable(why)) end
    end
    local conn = remote.connection(opts)
    conn.progress = nil
    local c, msg, err = oci.registry.connect(pos[1], conn)
    if not c then remote.fail(msg, err) end
    local names
    names, msg, err = c:catalog()
    c:close()
    if not names then remote.fail(msg, err) end
    if opts.filter then names = assert(oci.registry.filter_tags(names, opts.filter)) end
    if opts.json then
      out:write(oci.json.encode(setmetatable(names, #names == 0 and oci.empty_array_mt() or nil)), "\n")
    else
      for _, n in ipairs(names) do out:write(remote.printable(n), "\n") end
    end
    return 0
  end)

command("delete", "delete a manifest (or, with --blob, a blob) from a registry",
  [==[usage: ocispec delete [OPTIONS] REMOTE_REF

Deletes the manifest REMOTE_REF names (host/repo:tag is resolved to its
digest first: registries delete manifests by digest, and every tag of it
goes). With --blob, REMOTE_REF is host/repo@DIGEST and the blob is
deleted. The registry must allow deletes (distribution: storage.delete).

  --blob                REMOTE_REF names a blob
]==] .. remote.help,
  function(args, out)
    local opts, pos = remote.opts(args, { ["--blob"] = "flag" })
    if #pos ~= 1 then fail(2, "expected one REMOTE_REF") end
    local r = remote.parse(pos[1], "REMOTE_REF")
    if opts.blob and not r.digest then fail(2, "--blob needs REMOTE_REF host/repo@DIGEST") end
    local conn = remote.connection(opts)
    conn.progress = nil
    local c, msg, err = oci.registry.connect(r.host, conn)
    if not c then remote.fail(msg, err) end
    local ok
    local digest = r.digest
    if opts.blob then
      ok, msg, err = c:delete_blob(r.repository, digest)
    else
      if not digest then
        local d
        d, msg, err = c:head_manifest(r.repository, r.tag)
        if d == false then
          c:close()
          fail(1, ("%s: no such manifest"):format(remote.printable(pos[1])))
        elseif not d then
          c:close()
          remote.fail(msg, err)
        end
        digest = d:digest()
      end
      ok, msg, err = c:delete_manifest(r.repository, digest)
    end
    c:close()
    if not ok then remote.fail(msg, err) end
    if not opts.quiet then
      out:write(("deleted %s %s/%s@%s\n"):format(opts.blob and "blob" or "manifest", r.registry, r.repository, digest))
    end
    return 0
  end)

-- The content of a sync list file: JSON, else YAML (lyaml, Debian's
-- lua-yaml), as skopeo's --src yaml file.
local function read_list(path)
  local f, why = io.open(path, "rb")
  if not f then fail(1, "--list: " .. remote.printable(why)) end
  local text = f:read("a")
  f:close()
  if text:match("^%s*{") then
    local t, msg = oci.json.decode(text)
    if t == nil then fail(1, ("--list %s: %s"):format(remote.printable(path), remote.printable(msg))) end
    return t
  end
  local ok, lyaml = pcall(require, "lyaml")
  if not ok then fail(1, "--list: reading YAML needs lyaml (Debian package lua-yaml); JSON needs nothing") end
  local loaded, t = pcall(lyaml.load, text)
  if not loaded then fail(1, ("--list %s: %s"):format(remote.printable(path), remote.printable(tostring(t)))) end
  if type(t) ~= "table" then fail(1, ("--list %s: a mapping of registries expected"):format(remote.printable(path))) end
  return t
end

command("sync", "mirror repositories, or a list of images, to a registry",
  [==[usage: ocispec sync [OPTIONS] SRC_REPO DST_REPO
       ocispec sync [OPTIONS] --list FILE DST_PREFIX

Copies every tag of SRC_REPO (host/repo) to DST_REPO (host/repo), as skopeo
sync does for one repository: a tag whose manifest is already at the
destination under the same digest is skipped (one HEAD at each side);
the others are copied (manifests byte for byte, blobs mounted or
streamed). Prints one line per tag and a summary; exits 1 when a tag
failed.

With --list, FILE (YAML or JSON, skopeo sync's --src yaml format) names
registries and their images; each repository goes to DST_PREFIX/<its last
path component> (--scoped: DST_PREFIX/<host>/<repo>).

  --filter REGEX        only the tags REGEX (POSIX extended) matches
  --semver RANGE        only the tags inside the semantic-version range
                        (">=1.2 <2", "^1.4", "~2.1", "1.x", "1.0 - 1.4")
  --list FILE           the images to mirror (YAML or JSON)
  --scoped              with --list: keep the source host and path
  --referrers           also copy the referrers graph of each image copied
                        or skipped (signatures, SBOMs: the referrers API or
                        the tag schema fallback), as copy --referrers does;
                        one the destination has costs a HEAD
  per-side connection options as copy's: --src-plain-http, --dest-creds
  USER:PASS, --src-authfile FILE, ... (a plain option applies to both)
]==] .. remote.help,
  function(args, out)
    local spec = { ["--filter"] = "value", ["--semver"] = "value", ["--list"] = "value", ["--scoped"] = "flag",
                   ["--referrers"] = "flag" }
    for k, v in pairs(remote.side_opts) do spec[k] = v end
    local opts, pos = remote.opts(args, spec)
    if opts.list then
      if #pos ~= 1 then fail(2, "expected DST_PREFIX after --list FILE") end
      if opts.filter or opts.semver then
        fail(2, "--filter and --semver select one repository's tags; a list selects its own")
      end
      remote.parse(pos[1] .. "/x", "DST_PREFIX")
    else
      if opts.scoped then fail(2, "--scoped goes with --list") end
      if #pos ~= 2 then fail(2, "expected SRC_REPO and DST_REPO") end
      remote.parse(pos[1], "SRC_REPO")
      remote.parse(pos[2], "DST_REPO")
    end
    for _, p in ipairs(pos) do
      if p:find("[:@][^/]*$") then
        fail(2, "SRC_REPO, DST_REPO and DST_PREFIX name repositories (host/repo), without a tag or digest")
      end
    end
    if opts.filter then
      local ok, why = oci.core.check.regex_find(opts.filter, "")
      if ok == nil then fail(2, "--filter: " .. remote.printable(why)) end
    end
    if opts.semver then
      local ok, why = oci.registry.semver_range(opts.semver)
      if not ok then fail(2, "--semver: " .. remote.printable(why)) end
    end
    local conn = remote.connection(opts)
    conn.progress = nil
    conn.src, conn.dst = remote.side_connection(opts, "src"), remote.side_connection(opts, "dest")
    conn.referrers = opts.referrers or nil
    local r, msg, err
    if opts.list then
      conn.scoped = opts.scoped or nil
      r, msg, err = oci.registry.sync_list(read_list(opts.list), pos[1], conn)
    else
      conn.filter, conn.semver = opts.filter, opts.semver
      r, msg, err = oci.registry.sync(pos[1], pos[2], conn)
    end
    if not r then remote.fail(msg, err) end
    if opts.json then
      local function arr(t) return setmetatable(t, #t == 0 and oci.empty_array_mt() or nil) end
      local failed = {}
      for _, f in ipairs(r.failed) do failed[#failed + 1] = { tag = f.tag, message = f.message } end
      out:write(oci.json.encode({ copied = arr(r.copied), skipped = arr(r.skipped), failed = arr(failed),
                                  referrers = opts.referrers and r.referrers or nil }), "\n")
    else
      for _, t in ipairs(r.copied) do out:write("copied ", remote.printable(t), "\n") end
      for _, t in ipairs(r.skipped) do
        out:write("skipped ", remote.printable(t), " (same digest at the destination)\n")
      end
      for _, f in ipairs(r.failed) do
        io.stderr:write(("ocispec sync: %s: %s\n"):format(remote.printable(f.tag), remote.printable(f.message)))
      end
      out:write(("%d copied, %d skipped, %d failed%s\n"):format(#r.copied, #r.skipped, #r.failed,
        opts.referrers and (", %d referrer(s) copied"):format(r.referrers) or ""))
    end
    return #r.failed > 0 and 1 or 0
  end)
