#include "common/dvr/export.hpp"
