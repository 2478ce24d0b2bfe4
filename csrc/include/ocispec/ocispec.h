/** @file
   ocispec: the Open Container Initiative specifications for C.
   Umbrella header: include this one. It includes the headers of the
   components this copy of the library was built with (ocispec/config.h). */
#ifndef OCISPEC_OCISPEC_H
#define OCISPEC_OCISPEC_H

#include "ocispec/config.h"
#include "ocispec/version.h"

#include "ocispec/arena.h"
#include "ocispec/digest.h"
#include "ocispec/error.h"
#include "ocispec/platform.h"
#include "ocispec/reference.h"
#include "ocispec/runtime.h"
#include "ocispec/schema.h"
#include "ocispec/strcheck.h"
#include "ocispec/types.h"
#include "ocispec/values.h"

#ifdef OCI_WITH_IMAGE
#include "ocispec/conversion.h"
#include "ocispec/hash.h"
#include "ocispec/image_read.h"
#include "ocispec/layer.h"
#include "ocispec/layout.h"
#include "ocispec/run.h"
#include "ocispec/unpack.h"
#endif
#ifdef OCI_WITH_REGISTRY
#include "ocispec/registry.h"
#endif

#endif
