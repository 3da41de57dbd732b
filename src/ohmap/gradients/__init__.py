"""Stage 4, gradients: source-plane morphology, deprojected radii and radial metallicity
gradients (Wang et al. 2017, Sects. 4.2 and 6.1).

Two independent measurements of the gradient d(12+log(O/H))/dr of each galaxy (Table 5):

* **Individual spaxel** (:func:`~ohmap.gradients.individual_spaxels.individual_spaxel_gradient`):
  a straight line through the metallicity of every fitted spaxel (2 x 2 binned maps, at least
  one line at S/N >= 5) against its source-plane de-projected galactocentric radius.
* **Radial annulus** (:mod:`ohmap.gradients.radial_annuli`): spaxels grouped into annuli of
  increasing radius, each wide enough for its summed flux of one line to reach S/N >= 15; the
  summed line fluxes of each annulus are fitted like a spaxel's
  (:func:`ohmap.inference.fitting.fit_fluxes`) and a line is drawn through the annuli's
  metallicities.

Both lines are fitted by :func:`~ohmap.gradients.linear_fit.fit_linear_with_scatter`: a straight
line with an intrinsic scatter about it, the line's parameters marginalised analytically.

Modules, in the order data flow through them:

* lensing: :mod:`~ohmap.gradients.sky` (tangent-plane offsets), :mod:`~ohmap.gradients.lensing`
  (HFF lens models scaled to a source redshift), :mod:`~ohmap.gradients.analytic_lenses`
  (lenses whose answers are known, for tests and the mock);
* morphology and radius: :mod:`~ohmap.gradients.source_plane`,
  :mod:`~ohmap.gradients.morphology`, :mod:`~ohmap.gradients.radius`;
* gradients: :mod:`~ohmap.gradients.linear_fit`, :mod:`~ohmap.gradients.result`,
  :mod:`~ohmap.gradients.individual_spaxels`, :mod:`~ohmap.gradients.radial_annuli`;
* :mod:`~ohmap.gradients.products`: the morphology table and radius maps.

Units: 12+log(O/H) in dex, radius in proper kpc (source plane, de-projected), gradients in
dex/kpc. Maps may be 2-D images or 1-D arrays of spaxels; spaxels are addressed by their flat
index (``numpy.ravel`` order) either way.
"""
