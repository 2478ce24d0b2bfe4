-- Every code block of README.md and of docs/*.md runs, so the
-- documentation cannot rot:
-- ```lua blocks with lua5.4 (`oci` predefined; `print(...) --> text`
-- comments are checked against the output line by line, whitespace runs
-- equal, "..." standing for any text), ```c blocks compiled into a main() against the static library,
-- ```sh blocks with bin/ocispec on PATH. Each runs in a fresh folder holding
-- the files the pages name (manifest.json, config.json, index.json,
-- layer.tar.gz, rootfs/, bundle/, mybundle/, examples/). A block whose info string says
-- `notest` (installing, or running the test suite itself) is skipped and
-- listed as pending. Plain ``` blocks are text. A failing block fails its
-- own test, named FILE:LINE (the harness itself is checked below: a block
-- that raises, exits non-zero or prints other than it says must fail).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")

local SRC = assert(oci.core.realpath(here .. ".."))
local BUILD = os.getenv("OCISPEC_BUILD_DIR")

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- A page's fenced blocks: { lang=, info=, line=, code= }.
local function blocks(text)
  local list, cur = {}, nil
  local n = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local fence = line:match("^```(.*)$")
    if fence and not cur then
      cur = { info = fence, lang = fence:match("^(%S*)"), line = n, lines = {} }
    elseif fence and cur then
      cur.code = table.concat(cur.lines, "\n") .. "\n"
      list[#list + 1] = cur
      cur = nil
    elseif cur then
      cur.lines[#cur.lines + 1] = line
    end
  end
  -- an unclosed fence (its line, second value) would hide the rest of the page from the tests
  return list, cur and cur.line
end

local MANIFEST = [[{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
"config":{"mediaType":"application/vnd.oci.image.config.v1+json",
"digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7","size":7023},
"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",
"digest":"sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0","size":32654}]}]]

local write = support.write

-- The folder a block runs in, with the files the blocks name.
local function prepare(dir)
  write(dir .. "/manifest.json", MANIFEST)
  assert(oci.runtime.Spec.default():to_file_pretty(dir .. "/config.json"))
  write(dir .. "/index.json", assert(support.read(SRC .. "/../shared/bench-inputs/image-index.json")
    or [[{"schemaVersion":2,"manifests":[]}]]))
  assert(os.execute(("mkdir -p %s/rootfs/etc %s/bundle %s/mybundle && echo box > %s/rootfs/etc/hostname")
    :format(quote(dir), quote(dir), quote(dir), quote(dir))))
  assert(os.execute(("tar -C %s -czf %s/layer.tar.gz rootfs"):format(quote(dir), quote(dir))))
  assert(os.execute(("ln -s %s/examples %s/examples"):format(quote(SRC), quote(dir))))
end

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

-- `print(...) --> expected` lines of a Lua block, in order.
local function expectations(code)
  local list = {}
  for line in code:gmatch("[^\n]+") do
    local want = line:match("^%s*print%b()%s*%-%->%s*(.-)%s*$")
    if want then list[#list + 1] = want end
  end
  return list
end

local function normalize(s)
  return (s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", ""))
end

-- s split at each "...".
local function split_dots(s)
  local parts, start = {}, 1
  while true do
    local a, b = s:find("...", start, true)
    if not a then break end
    parts[#parts + 1] = s:sub(start, a - 1)
    start = b + 1
  end
  parts[#parts + 1] = s:sub(start)
  return parts
end

-- Under valgrind_busted the blocks' lua5.4 runs under valgrind, whose
-- notes ("--PID-- WARNING: unhandled amd64-linux syscall: 437": valgrind
-- 3.19 lacks openat2, and the library falls back to a component walk) go
-- to the same stderr; they are not the block's output. Its errors still
-- fail the block (exit 86).
local UNDER_VALGRIND = os.getenv("OCISPEC_UNDER_VALGRIND") ~= nil

local function check_output(out, wants, name)
  local lines = {}
  for l in out:gmatch("[^\n]*") do
    if l ~= "" and not (UNDER_VALGRIND and l:find("^%-%-%d+%-%- ")) then lines[#lines + 1] = l end
  end
  for i, want in ipairs(wants) do
    local got = normalize(lines[i] or "")
    -- "..." stands for any text; everything else must match exactly
    local parts = {}
    for _, piece in ipairs(split_dots(normalize(want))) do
      parts[#parts + 1] = piece:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
    end
    local pattern = "^" .. table.concat(parts, ".-") .. "$"
    assert.truthy(got:find(pattern), ("%s: output line %d is %q, the page says %q"):format(name, i, got, want))
  end
end

local runners = {
  lua = function(block, dir, name)
    write(dir .. "/block.lua", 'local oci = require "ocispec"\n' .. block.code)
    local out, ok = run(("cd %s && lua5.4 block.lua"):format(quote(dir)))
    assert(ok, name .. " failed:\n" .. out)
    check_output(out, expectations(block.code), name)
  end,
  c = function(block, dir, name)
    if not BUILD then return pending("OCISPEC_BUILD_DIR is not set (run through ctest)") end
    local includes, body = {}, {}
    for line in block.code:gmatch("[^\n]*") do
      if line:match("^#include") then includes[#includes + 1] = line else body[#body + 1] = line end
    end
    write(dir .. "/block.c", "#include <stdio.h>\n" .. table.concat(includes, "\n")
      .. "\nint main(void) {\n" .. table.concat(body, "\n") .. "\nreturn 0;\n}\n")
    -- OCISPEC_TEST_CFLAGS: the sanitizer flags when the library is instrumented
    -- (BUILD/include: the generated ocispec/config.h and ocispec/version.h)
    local cc = ("cc -std=gnu11 -Wall -Werror %s -I%s/csrc/include -I%s/include -o %s/block %s/block.c "
      .. "%s/libocispec.a %s")
      :format(os.getenv("OCISPEC_TEST_CFLAGS") or "", quote(SRC), quote(BUILD), quote(dir), quote(dir), quote(BUILD),
        "$(pkg-config --libs libcrypto libarchive libzstd zlib)")
    local out, ok = run(cc)
    assert(ok, name .. " does not compile:\n" .. out)
    out, ok = run(("cd %s && ./block"):format(quote(dir)))
    assert(ok, name .. " failed:\n" .. out)
  end,
  sh = function(block, dir, name)
    write(dir .. "/block.sh", block.code)
    local out, ok = run(("cd %s && PATH=%s/bin:$PATH sh -e block.sh"):format(quote(dir), quote(SRC)))
    assert(ok, name .. " failed:\n" .. out)
  end,
}

-- The pages whose blocks run: README.md and every docs/*.md.
local PAGES = { "README.md" }
for _, name in ipairs(support.list(SRC .. "/docs", "%.md$")) do PAGES[#PAGES + 1] = "docs/" .. name end

-- GitHub's anchor of a heading: lowercase, punctuation dropped (but - and
-- _), spaces to hyphens.
local function slug(heading)
  return (heading:lower():gsub("[^%w%s_%-]", ""):gsub("%s", "-"))
end

-- The anchors of a page's headings (outside code blocks), as a set.
local function anchors_of(text)
  local set, fence = {}, false
  for line in text:gmatch("[^\n]*") do
    if line:match("^```") then fence = not fence end
    local h = not fence and line:match("^#+%s+(.-)%s*$")
    if h then set[slug(h)] = true end
  end
  return set
end

-- Relative links of a page (`[text](file.md#anchor)`, `(#anchor)`) that
-- name no file of the repository or no heading of their page: a list of
-- "LINE: target (why)". `dir` is the page's folder, relative to SRC.
local function broken_links(text, dir)
  local bad, n = {}, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    for target in line:gmatch("%]%(([^)%s]+)%)") do
      if not target:match("^%a[%w+.-]*:") then -- not a URL
        local file, anchor = target:match("^([^#]*)#?(.*)$")
        local path = file ~= "" and ((dir ~= "" and dir .. "/" or "") .. file):gsub("[^/]+/%.%./", "") or nil
        local page = path and support.read(SRC .. "/" .. path)
        if path and not page and not oci.core.realpath(SRC .. "/" .. path) then
          bad[#bad + 1] = ("%d: %s (no such file)"):format(n, target)
        elseif anchor ~= "" and path and not path:match("%.md$") then
          bad[#bad + 1] = ("%d: %s (an anchor into a file that is not a page)"):format(n, target)
        elseif anchor ~= "" and not anchors_of(page or text)[anchor] then
          bad[#bad + 1] = ("%d: %s (no such heading)"):format(n, target)
        end
      end
    end
  end
  return bad
end

-- Runs one block in a fresh folder; raises what the runner raised.
local function run_block(block, name)
  local dir = support.tmpdir()
  local ok, err = pcall(function()
    prepare(dir)
    runners[block.lang](block, dir, name)
  end)
  support.rmdir(dir)
  if not ok then error(err, 0) end
end

describe("documentation code blocks", function()
  it("cover README.md and the docs/ pages", function()
    -- the reference lives in docs/: an empty or missing folder is a failure, not a pass
    for _, page in ipairs({ "docs/lua.md", "docs/c.md", "docs/cli.md", "docs/validation.md",
      "docs/security.md", "docs/performance.md", "docs/testing.md" }) do
      assert.is_truthy(support.read(SRC .. "/" .. page), page .. " is missing")
    end
    assert.is_true(#PAGES >= 8)
  end)

  it("notices an unclosed fence", function()
    local list, unclosed = blocks("text\n```lua\nprint(1)\n```\n\n```sh\nfalse\n")
    assert.equal(1, #list)
    assert.equal(6, unclosed)
  end)

  it("notices a broken link", function()
    local bad = broken_links("[a](docs/lua.md#types) [b](docs/lua.md#no-such)\n"
      .. "[c](docs/nope.md) [d](#here) [g](#there)\n"
      .. "[e](https://example.com/x.md) [f](spec/readme_spec.lua)\n## Here\n", "")
    assert.same({ "1: docs/lua.md#no-such (no such heading)", "2: docs/nope.md (no such file)",
      "2: #there (no such heading)" }, bad)
  end)

  -- the harness fails a block that fails: otherwise a broken page would pass
  for _, case in ipairs({
    { lang = "lua", code = 'error("boom")\n', want = "boom" },
    { lang = "lua", code = 'print("one") --> two\n', want = 'output line 1 is "one", the page says "two"' },
    { lang = "lua", code = 'print(1) --> 1\nos.exit(3)\n', want = "failed" },
    { lang = "sh", code = "false\n", want = "failed" },
    { lang = "c", code = "#include <ocispec/ocispec.h>\nint x = ;\n", want = "does not compile" },
    { lang = "c", code = "return 1;\n", want = "failed" },
  }) do
    it(("fails a %s block that fails (%s)"):format(case.lang, case.want), function()
      if case.lang == "c" and not BUILD then return pending("OCISPEC_BUILD_DIR is not set (run through ctest)") end
      local ok, err = pcall(run_block, { lang = case.lang, info = case.lang, line = 1, code = case.code }, "self-test")
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find(case.want, 1, true), tostring(err))
    end)
  end

  for _, page in ipairs(PAGES) do
    describe(page, function()
      local text = assert(support.read(SRC .. "/" .. page))
      local list, unclosed = blocks(text)
      it("closes every ``` fence", function()
        assert.is_nil(unclosed, ("%s: the ``` fence of line %s is never closed"):format(page, tostring(unclosed)))
      end)
      it("links only to files and headings that exist", function()
        local bad = broken_links(text, page:match("^(.*)/") or "")
        assert.same({}, bad, page .. ": broken links:\n" .. table.concat(bad, "\n"))
      end)
      if page == "README.md" then
        it("has code blocks", function() assert.is_true(#list >= 6) end)
      end
      for _, block in ipairs(list) do
        local name = ("%s:%d (%s)"):format(page, block.line, block.lang ~= "" and block.lang or "text")
        if block.info:find("notest", 1, true) then
          pending(name .. ": marked notest")
        elseif runners[block.lang] then
          it(name .. " runs", function() run_block(block, name) end)
        end
      end
    end)
  end
end)
