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
