"""The public data resource catalog (政务信息资源目录): resources, their data items, versions and
the registration workflow (资源登记)."""
