package main

// The Vulkan backend registers itself as "vulkan" (-device vulkan).
import _ "github.com/difftune/difftune/shaders"
