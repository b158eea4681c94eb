data_root = '{{$LT_DATA_ROOT:data/coco}}/'
