--- distribution-spec types, error codes and image references
-- (oci-spec-rs `oci_spec::distribution`).
--
-- Classes: ErrorResponse, ErrorInfo, TagList, RepositoryList (each with
-- `<Name>Builder()`), and Reference.
-- @module ocispec.distribution
local core = require "ocispec.core"
local util = require "ocispec.util"

local M = {}
util.export_classes(M, "distribution")

--- distribution-spec version these types follow.
M.VERSION = "1.1.1"
M.VERSION_MAJOR, M.VERSION_MINOR, M.VERSION_PATCH = 1, 1, 1
--- oci-spec-rs' ErrorResponse display text.
M.ERR_REGISTRY = "distribution: registry returned error"

--- The 14 error codes of distribution-spec spec.md, by oci-spec-rs name.
M.ErrorCode = util.constants("ErrorCode", {
  BlobUnknown = "BLOB_UNKNOWN",
  BlobUploadInvalid = "BLOB_UPLOAD_INVALID",
  BlobUploadUnknown = "BLOB_UPLOAD_UNKNOWN",
  DigestInvalid = "DIGEST_INVALID",
  ManifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN",
  ManifestInvalid = "MANIFEST_INVALID",
  ManifestUnknown = "MANIFEST_UNKNOWN",
  NameInvalid = "NAME_INVALID",
  NameUnknown = "NAME_UNKNOWN",
  SizeInvalid = "SIZE_INVALID",
  Unauthorized = "UNAUTHORIZED",
  Denied = "DENIED",
  Unsupported = "UNSUPPORTED",
  TooManyRequests = "TOOMANYREQUESTS",
})

--- oci-spec-rs `ErrorResponse::detail()`: the list of ErrorInfo.
function M.ErrorResponse.methods.detail(self)
  return self:errors()
end

--- Image references: `Reference.parse(s)` (or `Reference(s)`),
-- `Reference.with_tag(registry, repository, tag)`, `with_digest`,
-- `with_tag_and_digest`; methods `registry`, `repository`, `tag`, `digest`,
-- `whole`, `resolve_registry` (`docker.io` -> `index.docker.io`),
-- `namespace`, `set_mirror_registry`, `clone_with_digest`. Normalisation
-- is oci-spec-rs's: no registry means `docker.io`, a one-part Docker Hub
-- repository gets `library/`, no tag and no digest means `latest`; the
-- repository must follow distribution-spec's name grammar and the tag its
-- tag grammar, IPv6 registries go in brackets, and an error names the bad
-- part (`reference "Uppercase:tag": repository name "Uppercase": ...`).
M.Reference = setmetatable({}, {
  __index = core.reference,
  __call = function(_, s) return core.reference.parse(s) end,
})

return M
