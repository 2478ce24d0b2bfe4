/** @file
   ocispec: the Open Container Initiative specifications for C.
   Umbrella header: include this one. */
#ifndef OCISPEC_OCISPEC_H
#define OCISPEC_OCISPEC_H

#include "ocispec/arena.h"
#include "ocispec/conversion.h"
#include "ocispec/digest.h"
#include "ocispec/error.h"
#include "ocispec/hash.h"
#include "ocispec/layer.h"
#include "ocispec/layout.h"
#include "ocispec/platform.h"
#include "ocispec/reference.h"
#include "ocispec/registry.h"
#include "ocispec/runtime.h"
#include "ocispec/schema.h"
#include "ocispec/strcheck.h"
#include "ocispec/types.h"
#include "ocispec/unpack.h"

/** The library version. */
#define OCISPEC_VERSION "0.1.0"

#endif
