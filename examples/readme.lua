-- The oci-spec-rs README examples, translated line by line to Lua.
-- Run from anywhere: files are read from examples/data beside this script
-- and written to the current directory.
local oci = require "ocispec"
local image = oci.image
local distribution = oci.distribution

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."

-- 1. Load a manifest from a file and count its layers.
local image_manifest = assert(image.ImageManifest.from_file(here .. "/data/manifest.json"))
assert(#image_manifest:layers() == 5)
print(("manifest.json has %d layers"):format(#image_manifest:layers()))

-- 2. Build a config descriptor and three layer descriptors, then a manifest,
--    and write it with to_file_pretty.
local config = assert(image.DescriptorBuilder()
  :media_type(image.MediaType.ImageConfig)
  :size(7023)
  :digest("sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7")
  :build())

local layers = {}
for _, l in ipairs({
  { 32654, "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0" },
  { 16724, "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b" },
  { 73109, "sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736" },
}) do
  layers[#layers + 1] = assert(image.DescriptorBuilder()
    :media_type(image.MediaType.ImageLayerGzip)
    :size(l[1])
    :digest(l[2])
    :build())
end

local manifest = assert(image.ImageManifestBuilder()
  :schema_version(image.SCHEMA_VERSION)
  :config(config)
  :layers(layers)
  :build())
assert(manifest:to_file_pretty("my-manifest.json"))

-- The file oci-spec-rs's README shows for the same program.
local expected = [[
{
  "schemaVersion": 2,
  "config": {
    "mediaType": "application/vnd.oci.image.config.v1+json",
    "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7",
    "size": 7023
  },
  "layers": [
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "digest": "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0",
      "size": 32654
    },
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "digest": "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b",
      "size": 16724
    },
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "digest": "sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736",
      "size": 73109
    }
  ]
}]]
local f = assert(io.open("my-manifest.json", "rb"))
local written = f:read("a")
f:close()
-- JSON-equal (and, as serde_json writes it, byte-equal)
assert(image.ImageManifest.from_json(written) == assert(image.ImageManifest.from_json(expected)))
assert(written == expected, "my-manifest.json differs from the oci-spec-rs output")
print("wrote my-manifest.json (" .. #written .. " bytes), equal to oci-spec-rs's")

-- 3. Build a RepositoryList.
local list = assert(distribution.RepositoryListBuilder()
  :repositories({ "busybox", "library/alpine", "my/app" })
  :build())
print(list:to_json())
assert(list:to_json() == '{"repositories":["busybox","library/alpine","my/app"]}')

-- A builder names every required field it is missing.
local _, err = image.DescriptorBuilder():size(1):build()
print(err)
assert(err:find("media_type", 1, true) and err:find("digest", 1, true))
