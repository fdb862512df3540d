#define _GNU_SOURCE
#include "CShim.h"
