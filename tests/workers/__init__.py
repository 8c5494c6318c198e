"""Programs the distributed tests start in several processes through torchrun's launcher."""
